//! clap types. Kept apart from the commands so the command-line surface reads in one place.
// Doc comments here are also `--help` texts, where `[:PORT]`-style brackets are literal
// command-line syntax, not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "sealift",
    version,
    about = "Carry container images across an air gap with everything that proves them"
)]
pub struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr (-v: info, -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk images with their signatures, attestations and referrers into one bundle file.
    Save(SaveArgs),
    /// Check a bundle and push it into a registry, digest for digest.
    Load(Box<LoadArgs>),
    /// Show what a bundle holds.
    Inspect(InspectArgs),
    /// Print the cosign simple-signing payload for an image, for an external signer.
    Generate(crate::cli::commands::generate::GenerateArgs),
    /// Create certificates: a root CA, an intermediate and a code-signing leaf.
    #[command(subcommand)]
    Certs(crate::cli::commands::certs::CertsCommand),
    /// Sign an image and append the signature to its cosign `.sig` manifest.
    Sign(crate::cli::commands::sign::SignArgs),
    /// Attach an externally made signature.
    #[command(subcommand)]
    Attach(crate::cli::commands::attach::AttachCommand),
    /// Verify image signatures, online or fully offline against a bundle.
    Verify(Box<crate::cli::commands::verify::VerifyArgs>),
    /// Offline verification audit of a bundle (or of what landed in a registry).
    Audit(crate::cli::commands::audit::AuditArgs),
    /// List what a registry holds (repositories, tags, manifests, blobs) as a site inventory.
    Inventory(InventoryArgs),
    /// Serve bundles as a read-only registry, in place: only what passes admission.
    Serve(Box<ServeArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    None,
    Zstd,
    Gzip,
}

/// How to reach registries (save, load, verify).
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Use plain HTTP for non-loopback registries (loopback hosts use HTTP unless --ca-cert is given).
    #[arg(long)]
    pub plain_http: bool,
    /// Extra CA certificate (PEM) to trust for registry TLS; repeatable.
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_certs: Vec<PathBuf>,
    /// Registry user name (password from --password-stdin); otherwise the Docker config is used.
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Retries for failed registry requests (connection resets, 5xx, 429); also how often a
    /// blob download that broke off is resumed (Range request from where it stopped).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub retries: u32,
    /// Seconds a manifest, tag list or token request may take in all; a blob transfer must
    /// move 64 KiB in every window of this length (and its registry answer within it).
    #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub timeout: u64,
    /// Concurrent blob transfers.
    #[arg(long, short = 'j', default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("sign_key", |a| a.help("Seal the bundle: sign a bundle index (every image, blob and attachment) with this key (PEM)")),
    mut_arg("sign_certificate", |a| a.help("Certificate (PEM) of the seal key, stored with the seal")),
    mut_arg("sign_certificate_chain", |a| a.help("Certificate chain (PEM, intermediates then root) of the seal certificate")),
    mut_arg("sign_algorithm", |a| a.help("Signature algorithm of the seal (default: per key type, cosign-compatible)")),
)]
pub struct SaveArgs {
    /// Images: host[:port]/repo[:tag][@sha256:digest].
    #[arg(value_name = "REF")]
    pub refs: Vec<String>,
    /// A bundle spec (TOML) naming the images to carry; see bundles/.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Output bundle (.tar, .tar.zst or .tar.gz).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Keep only these platforms of multi-platform images (os/arch[/variant]); repeatable.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Vec<String>,
    /// Compression, overriding the file extension.
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    #[command(flatten)]
    pub signer: SignerArgs,
    /// What the site already has: a site inventory (JSON, from `sealift inventory`) or an
    /// earlier bundle (.tar, .tar.zst, .tar.gz or layout directory); repeatable. Layers the
    /// site has are left out of the bundle (a delta bundle).
    #[arg(long, value_name = "INVENTORY|BUNDLE|DIR")]
    pub have: Vec<PathBuf>,
    /// Trust for the --have sources: an inventory's signature and a base bundle's seal
    /// are checked with these, as `load` checks a seal; without them neither is required.
    #[command(flatten)]
    pub have_trust: SealTrustArgs,
    /// Cut the bundle into parts of at most SIZE (e.g. 4GiB, 700MB, 1048576): FILE.001,
    /// FILE.002, ... and the part list FILE.parts.json, written last.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub volume_size: Option<u64>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// A size: plain bytes, or a number with KiB/MiB/GiB/TiB (powers of 1024) or KB/MB/GB/TB
/// (powers of 1000); at least [`crate::bundle::volumes::MIN_VOLUME_SIZE`] bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let unit_bytes: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => return Err(format!("unknown unit {other:?}: use bytes, KiB, MiB, GiB, KB, MB or GB")),
    };
    let n: u64 = digits.parse().map_err(|_| format!("{s:?} is not a size such as 4GiB, 700MB or 1048576"))?;
    let bytes = n.checked_mul(unit_bytes).ok_or_else(|| format!("{s:?} is too large"))?;
    let min = crate::bundle::volumes::MIN_VOLUME_SIZE;
    if bytes < min {
        return Err(format!("{s:?} is under the {min}-byte minimum"));
    }
    Ok(bytes)
}

#[derive(Debug, Args)]
#[command(
    mut_arg("sign_key", |a| a.help("Sign the inventory with this key (PEM), as a seal is signed; writes OUT.sig")),
    mut_arg("sign_certificate", |a| a.help("Certificate (PEM) of the signing key, stored in the signature")),
    mut_arg("sign_certificate_chain", |a| a.help("Certificate chain (PEM, intermediates then root) of the signing certificate")),
    mut_arg("sign_algorithm", |a| a.help("Signature algorithm (default: per key type, cosign-compatible)")),
)]
pub struct InventoryArgs {
    /// The registry to list: HOST[:PORT][/PREFIX] (only repositories under PREFIX).
    #[arg(long, value_name = "TARGET")]
    pub registry: String,
    /// Output file (JSON, written atomically); its signature goes to OUT.sig.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
    #[command(flatten)]
    pub signer: SignerArgs,
    #[command(flatten)]
    pub registry_args: RegistryArgs,
}

/// Signing a detached signature document in the seal's format: `save`'s seal and an
/// inventory's `OUT.sig`. Each command words the help of these flags for what it signs
/// (`mut_arg` on its args).
#[derive(Debug, Clone, Default, Args)]
pub struct SignerArgs {
    /// The private key (PEM) to sign with.
    #[arg(long, value_name = "KEY")]
    pub sign_key: Option<PathBuf>,
    /// Certificate (PEM) of the signing key, stored in the signature.
    #[arg(long, value_name = "CERT", requires = "sign_key")]
    pub sign_certificate: Option<PathBuf>,
    /// Certificate chain (PEM, intermediates then root) of the signing certificate.
    #[arg(long, value_name = "CHAIN", requires = "sign_certificate")]
    pub sign_certificate_chain: Option<PathBuf>,
    /// Signature algorithm (default: per key type, cosign-compatible).
    #[arg(long, value_name = "ALG", requires = "sign_key")]
    pub sign_algorithm: Option<String>,
}

/// Trust for bundle seals (`load`, `verify --bundle`, `audit`).
#[derive(Debug, Clone, Default, Args)]
pub struct SealTrustArgs {
    /// Public key (PEM) that must have sealed the bundle; repeatable.
    #[arg(long = "bundle-key", value_name = "PUB")]
    pub bundle_keys: Vec<PathBuf>,
    /// Root CA certificates (PEM) for a seal made with a certificate.
    #[arg(long, value_name = "PEM")]
    pub bundle_ca_roots: Option<PathBuf>,
    /// Seal certificate identity (SAN) regular expression (unanchored).
    #[arg(long, value_name = "REGEX")]
    pub bundle_identity_regexp: Option<String>,
    /// Seal certificate OIDC issuer regular expression (unanchored).
    #[arg(long, value_name = "REGEX")]
    pub bundle_oidc_issuer_regexp: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("partial", |a| a.help("Push the images that pass verification and refuse the others (default: all or nothing)")),
    mut_arg("allow_unsigned", |a| a.help("Admit images that no policy rule covers (they are pushed unverified)")),
    mut_arg("insecure_skip_verify", |a| a.help("Load without verifying any signature (no trust given). Says so loudly")),
)]
pub struct LoadArgs {
    /// A bundle file written by `sealift save`, or an OCI layout directory (e.g. from `cosign save`).
    #[arg(value_name = "FILE|DIR")]
    pub source: PathBuf,
    /// Target: HOST[:PORT][/PREFIX]; for a cosign layout directory, the full target reference.
    #[arg(long, value_name = "TARGET")]
    pub to: String,
    /// Show what would be pushed and what the target already has; push nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub admit: AdmitArgs,
    /// Read and hash every blob of a .tar or directory before the first upload, then read
    /// each layer again into its upload: a corrupt bundle leaves the target untouched. The
    /// default reads each layer once, straight into its upload; a failure can then leave
    /// blobs of admitted images at the target, never a manifest or tag.
    #[arg(long, conflicts_with = "stream")]
    pub check_first: bool,
    /// The default one pass (kept so that scripts written for it keep working).
    #[arg(long, hide = true)]
    pub stream: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub seal: SealTrustArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
#[command(
    mut_arg("partial", |a| a.help("Serve the images that pass verification and refuse the others (default: refuse to start)")),
    mut_arg("allow_unsigned", |a| a.help("Admit images that no policy rule covers (they are served unverified)")),
    mut_arg("insecure_skip_verify", |a| a.help("Serve without verifying any signature (no trust given). Says so loudly")),
)]
pub struct ServeArgs {
    /// Bundle files (uncompressed .tar) or OCI layout directories; several serve as one
    /// registry (a later bundle's tag wins).
    #[arg(value_name = "BUNDLE|DIR", required = true)]
    pub sources: Vec<PathBuf>,
    /// Address to listen on (port 0: any free port; the readiness line says which).
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDR:PORT")]
    pub listen: String,
    /// TLS certificate chain (PEM); with --tls-key, serve HTTPS.
    #[arg(long, value_name = "CRT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM) of --tls-cert.
    #[arg(long, value_name = "KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Repository prefix: an image saved from host/team/app is served as PREFIX/team/app,
    /// as `load --to HOST/PREFIX` would name it.
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
    #[command(flatten)]
    pub admit: AdmitArgs,
    /// Hash every layer in the background right after listening, instead of on its first
    /// request only.
    #[arg(long)]
    pub check_ahead: bool,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub seal: SealTrustArgs,
}

/// How `load` and `serve` admit a bundle besides its trust ([`crate::cli::commands::gate`]).
/// Each command words the help of these flags for what it does (`mut_arg` on its args).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct AdmitArgs {
    /// Let through the images that pass verification and refuse the others.
    #[arg(long)]
    pub partial: bool,
    /// Admit images that no policy rule covers (unverified).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Admit without verifying any signature (no trust given). Says so loudly.
    #[arg(long)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A bundle file or OCI layout directory.
    #[arg(value_name = "FILE|DIR")]
    pub source: PathBuf,
    /// Report format: text for people, json for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

/// Trust inputs shared by `verify`, `load` and `audit`: a policy file, or the shorthand
/// flags (which make a one-rule policy covering every repository), with cosign's names.
#[derive(Debug, Clone, Default, Args)]
pub struct TrustArgs {
    /// Trust policy (TOML, see docs/policy.md). Exclusive with the shorthand flags below.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Public key (PEM) whose signatures are trusted; repeatable.
    #[arg(long = "key", value_name = "PUB")]
    pub keys: Vec<PathBuf>,
    /// Root CA certificates (PEM) for certificate signatures.
    #[arg(long, value_name = "PEM")]
    pub ca_roots: Option<PathBuf>,
    /// Intermediate CA certificates (PEM), in addition to the signature's chain annotation.
    #[arg(long, value_name = "PEM")]
    pub ca_intermediates: Option<PathBuf>,
    /// Sigstore trusted_root.json (Fulcio CAs and Rekor keys).
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Rekor public key: verifies Rekor bundles and makes integratedTime the trusted time.
    #[arg(long, value_name = "PEM")]
    pub rekor_key: Vec<PathBuf>,
    /// Exact certificate identity (SAN: email, URI, ...).
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// Certificate identity regular expression (unanchored, as cosign).
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// Exact OIDC issuer (Fulcio extension).
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// OIDC issuer regular expression (unanchored).
    #[arg(long)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Verify at this time (RFC 3339) instead of now, when no Rekor bundle gives the time.
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// Signatures needed per image.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threshold: usize,
    /// Accepted for cosign compatibility (sealift never contacts a transparency log).
    #[arg(long)]
    pub private_infrastructure: bool,
    /// Accepted for cosign compatibility.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Do not require an embedded SCT from the --trusted-root CT logs (Sigstore bundles;
    /// as cosign's flag).
    #[arg(long)]
    pub insecure_ignore_sct: bool,
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        for (s, n) in [
            ("4GiB", 4u64 << 30),
            ("4095MiB", 4095 << 20),
            ("700MB", 700_000_000),
            ("4.7", 0),
            ("1048576", 1 << 20),
            ("64 KiB", 64 << 10),
            ("5kb", 5000),
        ] {
            match parse_size(s) {
                Ok(v) => assert_eq!(v, n, "{s}"),
                Err(e) => assert_eq!(n, 0, "{s}: {e}"),
            }
        }
        for bad in ["", "GiB", "-1", "12XB", "100", "99999999999TiB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
