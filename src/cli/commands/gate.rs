//! The admission gate shared by `load` and `serve`: trust flags, policy and seal options
//! become one call of [`crate::transfer::admit::admit`], whose decisions are printed here.
//! Nothing reaches a registry (`load`) or a client (`serve`) that this did not let through.

use crate::cli::args::{AdmitArgs, SealTrustArgs, TrustArgs};
use crate::cli::commands::Failure;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::content::Metadata;
use crate::exit;
use crate::seal::SealVerdict;
use crate::transfer::admit::{admit, AdmitOptions, Admitted, Decision, Judge, Outcome, Refusal};

/// How one command admits a bundle, and how it words a refusal.
pub struct Admission<'a> {
    pub trust: &'a TrustArgs,
    pub seal: &'a SealTrustArgs,
    pub admit: AdmitArgs,
    /// The subcommand, for the `--help` hint.
    pub command: &'static str,
    /// What a refusal means: "nothing was pushed".
    pub nothing: &'static str,
    /// How `--partial` would help: "use --partial to push the images that passed".
    pub partial_hint: &'static str,
}

/// Verify before use: admission decides (src/transfer/admit); this only prints its
/// decisions. `Err(code)` when the command stops here (every image was reported).
pub fn gate(how: &Admission<'_>, meta: &Metadata, ui: &Ui) -> anyhow::Result<Result<Admitted, u8>> {
    let policy = crate::cli::trust::policy_from_args(how.trust)?;
    let now = chrono::Utc::now();
    let judge = match &policy {
        Some(policy) => Judge::Policy { policy, now },
        None if how.admit.insecure_skip_verify => Judge::SkipVerify,
        None => {
            return Err(Failure::new(
                exit::USAGE,
                format!(
                    "no trust given: pass --policy FILE or --key/--ca-roots/--trusted-root (see `sealift {} --help`), or --insecure-skip-verify to {} without verifying signatures",
                    how.command, how.command
                ),
            )
            .into())
        }
    };
    let seal_trust = settings::seal_trust(how.seal)?;
    let options = AdmitOptions { partial: how.admit.partial, allow_unsigned: how.admit.allow_unsigned };
    let admitted = match admit(meta, seal_trust.as_ref(), judge, options, now) {
        Ok(a) => a,
        Err(Refusal::Seal { reason }) => {
            return Err(Failure::new(exit::REJECTED, format!("bundle seal rejected: {reason}; {}", how.nothing)).into());
        }
        Err(Refusal::Images { decisions }) => {
            print_decisions(&decisions, ui);
            let refusal = Refusal::Images { decisions };
            ui.status(&format!("refused: {refusal}; {} ({})", how.nothing, how.partial_hint));
            return Ok(Err(exit::REJECTED));
        }
    };
    match admitted.seal() {
        SealVerdict::Verified { signer, algorithm, .. } => {
            ui.status(&format!("seal verified: signed by {signer} ({algorithm})"))
        }
        SealVerdict::NotChecked => {
            ui.warn("the bundle is sealed but no --bundle-key/--bundle-ca-roots was given: seal not checked")
        }
        SealVerdict::Absent | SealVerdict::Rejected { .. } => {}
    }
    if !admitted.is_verified() {
        ui.warn(&format!(
            "--insecure-skip-verify: NO SIGNATURE IS VERIFIED; every image in the bundle is {} as it is",
            if how.command == "load" { "pushed" } else { "served" }
        ));
    }
    print_decisions(admitted.decisions(), ui);
    let refused: Vec<&str> =
        admitted.decisions().iter().filter(|d| d.outcome == Outcome::Refused).map(|d| d.reference.as_str()).collect();
    if !refused.is_empty() {
        ui.warn(&format!("--partial: refusing {} image(s): {}", refused.len(), refused.join(", ")));
    }
    Ok(Ok(admitted))
}

fn print_decisions(decisions: &[Decision], ui: &Ui) {
    for d in decisions {
        match (&d.outcome, &d.assessment) {
            (Outcome::CarriedOnly, _) => ui.status(&format!(
                "{} ({}): partial index, carried for its signatures, not pushed; its platforms are judged on their own",
                d.reference, d.digest
            )),
            (_, Some(a)) => ui.status_lines(&crate::assess::report::image_text(a)),
            (_, None) => {}
        }
    }
}
