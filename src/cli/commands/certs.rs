//! `sealift certs create`: a small offline PKI (root CA → intermediate → code-signing
//! leaf) for signing, replacing the proof of concept's `gencrt.sh`.

use std::path::PathBuf;

use crate::cli::commands::Failure;
use crate::cli::progress::Ui;
use crate::exit;
use crate::verify::certs::{create_pki, KeyType, SanSpec};

/// The files `certs create` writes, in the order it reports them.
pub const FILES: [(&str, &str); 5] = [
    ("ca.crt", "root CA certificate (the trust anchor to give verifiers)"),
    ("sub.crt", "intermediate CA certificate"),
    ("leaf.crt", "code-signing certificate (--certificate)"),
    ("leaf.key", "private key of the leaf, PKCS#8 PEM, mode 0600 (--key)"),
    ("certificate_chain.pem", "intermediate then root (--certificate-chain)"),
];

#[derive(Debug, clap::Subcommand)]
pub enum CertsCommand {
    /// Create a root CA, an intermediate and a code-signing leaf with its key.
    Create {
        /// Directory to write ca.crt, sub.crt, leaf.crt, leaf.key and certificate_chain.pem into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Key type of all three certificates.
        #[arg(long, default_value = "ec-p256", value_name = "TYPE", value_parser = parse_key_type)]
        key_type: KeyType,
        /// Common name of the leaf (the CAs get "CN Root CA" and "CN Intermediate CA").
        #[arg(long, default_value = "sealift signer", value_name = "CN")]
        subject: String,
        /// Subject alternative name of the leaf: email:…, uri:… or dns:…; repeatable
        /// (default email:signer@sealift.local).
        #[arg(long = "san", value_name = "SAN", value_parser = parse_san)]
        sans: Vec<SanSpec>,
        /// Validity in days, starting a minute ago.
        #[arg(long, default_value_t = 365, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=36500))]
        days: u32,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

fn parse_key_type(s: &str) -> Result<KeyType, String> {
    s.parse().map_err(|e: crate::verify::certs::CertError| e.to_string())
}

fn parse_san(s: &str) -> Result<SanSpec, String> {
    s.parse().map_err(|e: crate::verify::certs::CertError| e.to_string())
}

pub async fn run(args: CertsCommand, ui: &Ui) -> anyhow::Result<u8> {
    let CertsCommand::Create { out, key_type, subject, sans, days, force } = args;
    if !force {
        for (name, _) in FILES {
            let path = out.join(name);
            if path.exists() {
                return Err(Failure::new(
                    exit::USAGE,
                    format!("{} already exists: use --force to overwrite", path.display()),
                )
                .into());
            }
        }
    }
    let pki = create_pki(&out, key_type, &subject, sans, days, chrono::Utc::now().timestamp())?;
    // Status, not data: stderr, and nothing with -q.
    for (name, what) in FILES {
        ui.status(&format!("{}  {what}", out.join(name).display()));
    }
    let sans: Vec<String> = pki
        .leaf
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    n.email()
                        .map(|v| format!("email:{v}"))
                        .or_else(|| n.uri().map(|v| format!("uri:{v}")))
                        .or_else(|| n.dnsname().map(|v| format!("dns:{v}")))
                })
                .collect()
        })
        .unwrap_or_default();
    if !sans.is_empty() {
        ui.status(&format!("leaf identity: {}", sans.join(", ")));
    }
    Ok(exit::OK)
}
