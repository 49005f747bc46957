//! `sealift verify`: decide images under the trust flags (or `--policy`), online against
//! their registry, fully offline against a bundle from `sealift save` (`--bundle`: no
//! registry client is even constructed), or for detached signatures in
//! `cosign download signature` format (`--signatures FILE --digest sha256:HEX`).
//!
//! The full report is printed before the exit code says anything: 0 every image passed,
//! 1 one was rejected, 2 usage, 3 could not check (I/O, network, image not found).

use std::path::PathBuf;

use anyhow::Context as _;
use chrono::Utc;

use crate::assess::report::{image_json, image_text, REPORT_VERSION};
use crate::assess::{
    assess, assess_bundle, entry_reference, evidence_from_registry, Candidate, Evidence, Format, FoundSignature,
    ImageAssessment,
};
use crate::cli::args::{OutputFormat, RegistryArgs, TrustArgs};
use crate::cli::commands::Failure;
use crate::cli::progress::Ui;
use crate::cli::{settings, trust};
use crate::content::Metadata;
use crate::content::Role;
use crate::exit;
use crate::oci::{Digest, Reference};
use crate::registry::Registry;
use crate::trust::policy::Policy;

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Images: `host[:port]/repo[:tag][@sha256:digest]`; with --bundle, a saved reference
    /// name or a digest (all images of the bundle when none is given).
    #[arg(value_name = "REF")]
    pub refs: Vec<String>,
    /// Verify offline against a bundle file (or OCI layout directory) from `sealift save`.
    #[arg(long, value_name = "FILE", conflicts_with = "signatures")]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub seal: crate::cli::args::SealTrustArgs,
    /// Check one part of a volume set (`save --volume-size`) on its own against its part
    /// list, and the part list's signature when bundle trust (--bundle-key ...) is given.
    #[arg(long, value_name = "PART", conflicts_with_all = ["bundle", "signatures"])]
    pub volume: Option<PathBuf>,
    /// The part list for --volume (default: NAME.parts.json beside the part NAME.NNN).
    #[arg(long, value_name = "FILE", requires = "volume")]
    pub parts: Option<PathBuf>,
    /// Detached signatures as `cosign download signature` prints them (JSON lines or array).
    #[arg(long, value_name = "FILE", requires = "digest")]
    pub signatures: Option<PathBuf>,
    /// The manifest digest the --signatures must sign.
    #[arg(long, value_name = "sha256:HEX", requires = "signatures")]
    pub digest: Option<String>,
    /// Report format: text for people, json for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub trust: Box<TrustArgs>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure::new(exit::USAGE, message).into()
}

pub async fn run(args: VerifyArgs, _ui: &Ui) -> anyhow::Result<u8> {
    if let Some(part) = &args.volume {
        return volume(part, args.parts.as_deref(), &args.seal);
    }
    let policy = trust::required_policy(&args.trust)?;
    // The only clock read: verification takes "now" as an input.
    let now = Utc::now();
    let assessments = if let Some(file) = &args.signatures {
        vec![detached(&args, &policy, file, now)?]
    } else if let Some(bundle) = &args.bundle {
        offline(&args.refs, bundle, &policy, now, &args.seal).await?
    } else {
        if args.refs.is_empty() {
            return Err(usage("no images given: name them, or use --bundle FILE or --signatures FILE --digest D"));
        }
        online(&args, &policy, now).await?
    };
    print(&assessments, args.output, &policy)?;
    Ok(if assessments.iter().all(|a| a.passed) { exit::OK } else { exit::REJECTED })
}

fn print(assessments: &[ImageAssessment], output: OutputFormat, policy: &Policy) -> std::io::Result<()> {
    match output {
        OutputFormat::Json => {
            let doc = serde_json::json!({
                "version": REPORT_VERSION,
                "policy": policy.origin(),
                "passed": assessments.iter().all(|a| a.passed),
                "images": assessments.iter().map(image_json).collect::<Vec<_>>(),
            });
            crate::cli::print_json(&format!("{}\n", serde_json::to_string_pretty(&doc).expect("plain data")))?;
        }
        OutputFormat::Text => {
            for a in assessments {
                crate::cli::print_text(image_text(a))?;
            }
            let passed = assessments.iter().filter(|a| a.passed).count();
            crate::cli::print_text(format!(
                "{passed} of {} image(s) passed (policy: {})\n",
                assessments.len(),
                policy.origin()
            ))?;
        }
    }
    Ok(())
}

/// `--volume PART [--parts LIST]`: the part list's signature first (with bundle trust),
/// then the part's size and sha256 against it. Needs no image trust.
fn volume(
    part: &std::path::Path,
    parts: Option<&std::path::Path>,
    seal: &crate::cli::args::SealTrustArgs,
) -> anyhow::Result<u8> {
    use crate::bundle::volumes::PartSet;
    let list_path = match parts {
        Some(p) => p.to_owned(),
        None => PartSet::list_beside(part).ok_or_else(|| {
            usage(format!("{} is not named like a part (NAME.NNN); give its part list with --parts", part.display()))
        })?,
    };
    let set = PartSet::open_list(&list_path)?;
    let seal_trust = crate::cli::settings::seal_trust(seal)?;
    let mut signed = String::new();
    if let Some(trust) = &seal_trust {
        signed = format!("; part list signed by {}", part_list_signer(&set, trust)?);
    }
    let index = set.index_of(part)?;
    set.check_part(index, part)?;
    let p = &set.list.parts[index];
    println!(
        "{}: part {} of {} of set {}, {} bytes, {} ok{signed}",
        part.display(),
        index + 1,
        set.list.parts.len(),
        set.list.set,
        p.size,
        p.digest
    );
    Ok(exit::OK)
}

/// Checks a part list's detached signature (`NAME.parts.json.sig`) under bundle trust, with
/// the function that checks seals; returns who signed it. Unsigned: a bad bundle (exit 4);
/// a signature that does not verify: rejected (exit 1). For `verify --volume` and `load`.
pub fn part_list_signer(
    set: &crate::bundle::volumes::PartSet,
    trust: &crate::seal::SealTrust,
) -> anyhow::Result<String> {
    use crate::bundle::volumes::{read_signature, VolumeError, SIGNATURE_SUFFIX};
    let list = set.list_path.display().to_string();
    let sig = read_signature(&set.list_path)?.ok_or_else(|| VolumeError::Unsigned { list: list.clone() })?;
    let name = format!("{list}{SIGNATURE_SUFFIX}");
    match crate::seal::verify_signature("part list", &name, &sig, &set.list_bytes, trust, Utc::now().timestamp()) {
        Ok(crate::seal::SignedBy { signer, algorithm, .. }) => Ok(format!("{signer} ({algorithm})")),
        Err(reason) => Err(VolumeError::Rejected { list, reason }.into()),
    }
}

/// `--signatures FILE --digest D [REF]`: the optional REF names the repository the policy
/// rule is chosen by (and docker-reference is checked against).
fn detached(
    args: &VerifyArgs,
    policy: &Policy,
    file: &std::path::Path,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<ImageAssessment> {
    let digest_text = args.digest.as_deref().unwrap_or_default();
    let digest: Digest =
        digest_text.parse().map_err(|_| usage(format!("--digest {digest_text:?} is not sha256:<64 hex>")))?;
    let repository = match args.refs.as_slice() {
        [] => String::new(),
        [r] => r.parse::<Reference>()?.repository_name(),
        _ => return Err(usage("--signatures takes at most one REF (naming the repository)")),
    };
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let holder = Digest::of(text.as_bytes());
    let sigs = crate::cosign::signatures_from_download(&text).with_context(|| format!("{}", file.display()))?;
    let evidence = Evidence {
        signatures: sigs
            .into_iter()
            .take(crate::assess::evidence::MAX_SIGNATURES)
            .map(|s| FoundSignature {
                format: Format::LegacySig,
                holder: holder.clone(),
                signature: Some(s),
                bundle_json: None,
            })
            .collect(),
        ..Default::default()
    };
    let reference =
        if repository.is_empty() { format!("{}@{digest}", file.display()) } else { format!("{repository}@{digest}") };
    Ok(assess(
        policy,
        &Candidate { repository: &repository, reference: &reference, digest: &digest, evidence: &evidence },
        now,
    ))
}

/// `--bundle`: everything from the bundle's metadata; no registry, no network.
async fn offline(
    refs: &[String],
    bundle: &std::path::Path,
    policy: &Policy,
    now: chrono::DateTime<Utc>,
    seal: &crate::cli::args::SealTrustArgs,
) -> anyhow::Result<Vec<ImageAssessment>> {
    // The seal first, when bundle trust is given (then every blob is read and checked too):
    // a bundle whose seal fails is not looked into.
    let seal_trust = crate::cli::settings::seal_trust(seal)?;
    let (meta, seal_verdict) = crate::transfer::load::read_sealed(bundle, seal_trust.as_ref(), now.timestamp()).await?;
    let meta: Metadata = meta;
    match &seal_verdict {
        crate::seal::SealVerdict::Rejected { reason } => {
            return Err(Failure::new(exit::REJECTED, format!("bundle seal rejected: {reason}")).into())
        }
        crate::seal::SealVerdict::Verified { signer, algorithm, .. } => {
            crate::cli::eprint_line(&format!("seal verified: signed by {signer} ({algorithm})"))
        }
        _ => {}
    }
    let all = assess_bundle(&meta, policy, now, crate::assess::Names::of(&seal_verdict));
    if refs.is_empty() {
        return Ok(all.into_iter().map(|(_, a)| a).collect());
    }
    let mut out = Vec::new();
    for r in refs {
        let found = all.iter().find(|(i, _)| entry_matches(&meta, *i, r));
        match (found, listed_child(&meta, r)) {
            (Some((_, a)), _) => out.push(a.clone()),
            (None, Some((repository, digest))) => {
                let names = crate::assess::Names::of(&seal_verdict);
                out.push(crate::assess::assess_listed(&meta, policy, now, names, &repository, &digest));
            }
            (None, None) => {
                return Err(Failure::new(exit::FAILED, format!("{r} is not an image of {}", bundle.display())).into())
            }
        }
    }
    Ok(out)
}

/// Whether bundle entry `i` is what the user named: its digest, its saved name
/// (`host:port/repo:tag`), or `repo@digest` / `repo:tag@digest`.
fn entry_matches(meta: &Metadata, i: usize, wanted: &str) -> bool {
    let e = &meta.contents.entries[i];
    if !matches!(e.role, Role::Image | Role::Platform) {
        return false;
    }
    let d = &e.descriptor.digest;
    if wanted.parse::<Digest>().is_ok_and(|w| &w == d) {
        return true;
    }
    if entry_reference(&e.repository, e.tag.as_deref(), d) == wanted {
        return true;
    }
    match wanted.parse::<Reference>() {
        Ok(r) if r.repository_name() == e.repository => match (&r.digest, &r.tag) {
            (Some(rd), _) => rd == d,
            (None, Some(t)) => e.tag.as_deref() == Some(t.as_str()),
            (None, None) => e.tag.as_deref() == Some("latest"),
        },
        _ => false,
    }
}

/// A platform manifest of a saved index: not an `index.json` entry of its own (only the
/// index is), but its bytes and its attachments are in the bundle. `wanted` is its digest
/// or `repo[:tag]@digest`; returns the repository of the index entry that lists it.
fn listed_child(meta: &Metadata, wanted: &str) -> Option<(String, Digest)> {
    let (repository, digest) = match wanted.parse::<Digest>() {
        Ok(d) => (None, d),
        Err(_) => {
            let r = wanted.parse::<Reference>().ok()?;
            (Some(r.repository_name()), r.digest?)
        }
    };
    if !meta.contents.manifests.contains_key(&digest) {
        return None;
    }
    let parent = meta.contents.entries.iter().find(|e| {
        matches!(e.role, Role::Image | Role::Platform)
            && repository.as_ref().is_none_or(|r| r == &e.repository)
            && meta
                .contents
                .manifests
                .get(&e.descriptor.digest)
                .is_some_and(|m| m.parsed.manifests.iter().any(|c| c.digest == digest))
    })?;
    Some((parent.repository.clone(), digest))
}

/// Online: resolve each reference at its registry and read its attachments there.
async fn online(
    args: &VerifyArgs,
    policy: &Policy,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<Vec<ImageAssessment>> {
    let opts = settings::registry_options(&args.registry)?;
    let mut registries: std::collections::BTreeMap<String, Registry> = Default::default();
    let mut out = Vec::new();
    for text in &args.refs {
        let r: Reference = text.parse()?;
        let registry = match registries.get(&r.registry) {
            Some(reg) => reg.clone(),
            None => {
                let reg = Registry::new(&r.registry, &opts)?;
                registries.insert(r.registry.clone(), reg.clone());
                reg
            }
        };
        let manifest = registry
            .get_manifest(&r.repository, &r.manifest_reference())
            .await?
            .ok_or_else(|| Failure::new(exit::FAILED, format!("{r}: no such image")))?;
        let evidence = evidence_from_registry(&registry, &r.repository, &manifest.digest).await?;
        let image = Candidate {
            repository: &r.repository_name(),
            reference: &r.to_string(),
            digest: &manifest.digest,
            evidence: &evidence,
        };
        out.push(assess(policy, &image, now));
    }
    Ok(out)
}
