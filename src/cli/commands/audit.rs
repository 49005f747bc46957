//! `sealift audit`: a verification audit of a bundle (offline: no registry is contacted)
//! or, with `--registry`, of what a registry holds under a prefix. Writes a text, JSON or
//! HTML report to stdout or atomically to `-o FILE`; exits 0 when everything passed, 1
//! (rejected) otherwise, 2 on a usage error, 3 when it could not check.
// Doc comments here are also `--help` texts, where `[:PORT]`-style brackets are literal
// command-line syntax, not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::{Path, PathBuf};

use chrono::Utc;

use crate::assess::assess_bundle;
use crate::audit::{self, AuditReport, ImageFacts, PolicyInfo, PolicySource, RuleInfo, Subject};
use crate::cli::args::{RegistryArgs, TrustArgs};
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::cli::trust::{policy_from_args, TrustArgsError};
use crate::oci::Digest;
use crate::registry::Registry;
use crate::trust::policy::{Policy, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub source: AuditSource,
    #[command(flatten)]
    pub trust: Box<TrustArgs>,
    /// Report format.
    #[arg(long = "output", value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
    /// Write the report to this file (atomically: a temporary file, then a rename).
    #[arg(short = 'o', long = "output-file", value_name = "OUT")]
    pub output_file: Option<PathBuf>,
    #[command(flatten)]
    pub seal: Box<crate::cli::args::SealTrustArgs>,
    #[command(flatten)]
    pub registry_args: Box<RegistryArgs>,
}

/// What `audit` reads: `FILE|DIR` or `--registry TARGET`, exactly one (clap refuses
/// both and neither, so no other case reaches the command).
#[derive(Debug)]
pub enum AuditSource {
    /// A bundle file written by `sealift save`, or an OCI layout directory.
    Bundle(PathBuf),
    /// `HOST[:PORT][/PREFIX]` of a registry.
    Registry(String),
}

impl clap::FromArgMatches for AuditSource {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        if let Some(path) = m.get_one::<PathBuf>("source") {
            return Ok(AuditSource::Bundle(path.clone()));
        }
        match m.get_one::<String>("registry") {
            Some(target) => Ok(AuditSource::Registry(target.clone())),
            None => Err(clap::Error::raw(clap::error::ErrorKind::MissingRequiredArgument, "FILE|DIR or --registry")),
        }
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for AuditSource {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.arg(
            clap::Arg::new("source")
                .value_name("FILE|DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .required_unless_present("registry")
                .conflicts_with("registry")
                .help("A bundle file written by `sealift save`, or an OCI layout directory"),
        )
        .arg(
            clap::Arg::new("registry")
                .long("registry")
                .value_name("TARGET")
                .value_parser(clap::value_parser!(String))
                .help(
                    "Audit what a registry holds instead of a bundle: HOST[:PORT][/PREFIX]. Policy rules then match \
                 the repositories as named at that registry (`HOST/PREFIX/...`)",
                ),
        )
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

/// One line per rule: what it trusts and requires.
fn rule_info(r: &Rule) -> RuleInfo {
    let mut parts = Vec::new();
    if r.reject {
        parts.push("refuse".to_owned());
    } else {
        let m = &r.material;
        if !m.keys.is_empty() {
            let fps: Vec<String> = m.keys.iter().map(|k| k.fingerprint()).collect();
            parts.push(format!("key(s) {}", fps.join(", ")));
        }
        if !m.roots.is_empty() {
            let subjects: Vec<String> =
                m.roots.iter().map(|a| crate::verify::x509::subject_string(a.cert.subject_name())).collect();
            parts.push(format!("root(s) {}", subjects.join("; ")));
        }
        if !m.rekor_keys.is_empty() {
            parts.push(format!("{} Rekor key(s)", m.rekor_keys.len()));
        }
        if r.any_identity {
            parts.push("any identity under the roots".to_owned());
        } else if !r.identities.is_empty() {
            parts.push(format!("{} identity matcher(s)", r.identities.len()));
        }
        parts.push(format!("threshold {}", r.threshold));
        if let Some(algs) = &r.algorithms {
            let names: Vec<&str> = algs.iter().map(|a| a.name()).collect();
            parts.push(format!("algorithms {}", names.join(", ")));
        }
        if !r.require_attestations.is_empty() {
            parts.push(format!("attestations {}", r.require_attestations.join(", ")));
        }
        if r.check_docker_reference {
            parts.push("docker-reference checked".to_owned());
        }
        if let Some(at) = r.at {
            parts.push(format!("at {}", at.to_rfc3339()));
        }
    }
    RuleInfo { name: r.name.clone(), repositories: r.repositories.clone(), summary: parts.join("; ") }
}

fn policy_info(p: &Policy) -> PolicyInfo {
    PolicyInfo {
        source: if p.source.is_some() { PolicySource::File } else { PolicySource::CommandLine },
        path: p.source.as_ref().map(|p| p.display().to_string()),
        rules: p.rules.iter().map(rule_info).collect(),
    }
}

/// The bundle as the report names it: its path, its size (a file), and the digest of the
/// `index.json` that was read (which names the bundle's whole content).
fn bundle_subject(path: &Path, meta: &crate::content::Metadata) -> Subject {
    let size = if path.is_dir() { None } else { crate::bundle::volumes::bundle_size(path) };
    Subject::Bundle { path: path.display().to_string(), size, index_digest: Some(Digest::of(&meta.index_json)) }
}

pub async fn run(args: AuditArgs, ui: &Ui) -> anyhow::Result<u8> {
    // The command line reads the clock; everything below takes `now`.
    let now = Utc::now();
    // An audit without trust would refuse everything: a usage error, as for `verify`.
    if let Some(out) = &args.output_file {
        settings::check_output_file(out)?;
    }
    let policy = policy_from_args(&args.trust)?.ok_or(TrustArgsError::NoTrust)?;
    let (subject, seal, images) = match &args.source {
        AuditSource::Bundle(source) => {
            let seal_trust = settings::seal_trust(&args.seal)?;
            let (meta, seal) = crate::transfer::load::read_sealed(source, seal_trust.as_ref(), now.timestamp()).await?;
            let images: Vec<(crate::assess::ImageAssessment, ImageFacts)> =
                assess_bundle(&meta, &policy, now, crate::assess::Names::of(&seal))
                    .into_iter()
                    .map(|(i, a)| {
                        let facts = audit::bundle_facts(&meta, &meta.contents.entries[i]);
                        (a, facts)
                    })
                    .collect();
            (bundle_subject(source, &meta), Some(seal), images)
        }
        AuditSource::Registry(target) => {
            let t = super::registry_prefix(target)?;
            let registry = Registry::new(&t.host, &settings::registry_options(&args.registry_args)?)?;
            let images = audit::registry::assess_registry(&registry, &t.prefix, &policy, now).await?;
            (Subject::Registry { registry: t.host.clone(), prefix: t.prefix.clone() }, None, images)
        }
    };
    let report = AuditReport::build(now, subject, policy_info(&policy), seal.as_ref(), images);
    let rendered = match args.format {
        AuditFormat::Text => audit::render_text(&report),
        AuditFormat::Json => audit::render_json(&report),
        AuditFormat::Html => audit::render_html(&report),
    };
    match &args.output_file {
        Some(path) => {
            audit::write_atomic(path, rendered.as_bytes())?;
            ui.status(&format!(
                "audit {}: {} of {} image(s) passed; report written to {}",
                report.verdict.word(),
                report.totals.passed,
                report.totals.images,
                path.display()
            ));
        }
        None if matches!(args.format, AuditFormat::Json) => crate::cli::print_json(&rendered)?,
        None => crate::cli::print(rendered.as_bytes())?,
    }
    Ok(report.exit_code())
}
