//! Raw arguments become resolved settings before any work starts: bundle specs are read,
//! references parsed, passwords read from stdin. Errors here are usage errors (exit 2).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::oci::Reference;
use crate::transfer::walk::PlatformFilter;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("cannot read bundle spec {path}: {reason}")]
    Spec { path: PathBuf, reason: String },
    #[error("no images given: name them as arguments or with --spec")]
    NoImages,
    #[error("{0}")]
    Platform(String),
    #[error("cannot read the password from stdin: {0}")]
    Password(String),
    #[error("{what} {path}: {reason}")]
    File { what: &'static str, path: PathBuf, reason: String },
    #[error("invalid {flag} {value:?}: {reason}")]
    Flag { flag: &'static str, value: String, reason: String },
    #[error("output {path}: {reason}")]
    Output { path: PathBuf, reason: &'static str },
    #[error("cannot tell the compression of {path}: use .tar, .tar.zst or .tar.gz, or --compression")]
    Compression { path: PathBuf },
}

/// A bundle spec in `bundles/NAME.toml`: which images to carry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Image references, as on the command line.
    pub images: Vec<String>,
    /// Optional platform filter for multi-platform images.
    #[serde(default)]
    pub platforms: Vec<String>,
}

impl Spec {
    pub fn load(path: &Path) -> Result<Spec, SettingsError> {
        // Unreadable is I/O (exit 3, as the README's table says); malformed is usage (2).
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
            what: "cannot read bundle spec",
            path: path.into(),
            reason: e.to_string(),
        })?;
        toml::from_str(&text).map_err(|e| SettingsError::Spec { path: path.into(), reason: e.message().to_owned() })
    }
}

/// References and platforms from arguments plus an optional spec.
pub fn images(
    refs: &[String],
    spec: Option<&Path>,
    platforms: &[String],
) -> anyhow::Result<(Vec<Reference>, Vec<PlatformFilter>)> {
    let mut all: Vec<String> = refs.to_vec();
    let mut plats: Vec<String> = platforms.to_vec();
    if let Some(p) = spec {
        let s = Spec::load(p)?;
        all.extend(s.images);
        plats.extend(s.platforms);
    }
    if all.is_empty() {
        return Err(SettingsError::NoImages.into());
    }
    let mut parsed = Vec::new();
    for r in &all {
        let r: Reference = r.parse()?;
        if !parsed.contains(&r) {
            parsed.push(r);
        }
    }
    let plats = plats.iter().map(|p| p.parse().map_err(SettingsError::Platform)).collect::<Result<Vec<_>, _>>()?;
    Ok((parsed, plats))
}

/// An output sealift replaces atomically (a temporary file, then a rename) must be a
/// regular file or not exist yet: renaming over `/dev/null` or a symlink would replace it.
pub fn check_output_file(path: &Path) -> Result<(), SettingsError> {
    let err = |reason| SettingsError::Output { path: path.into(), reason };
    if path.as_os_str() == "-" {
        return Err(err("writing to standard output is not supported; give a file name"));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(err("is a symbolic link; sealift replaces its output by a rename and will not replace a link"))
        }
        Ok(m) if !m.is_file() => Err(err("exists and is not a regular file")),
        _ => Ok(()),
    }
}

/// Reads a file given on the command line (a usage error names the flag when unreadable).
pub fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, SettingsError> {
    std::fs::read(path).map_err(|e| SettingsError::File { what, path: path.into(), reason: e.to_string() })
}

/// A file that was read but does not hold what the flag needs: a usage error (exit 2).
fn malformed(flag: &'static str, path: &Path, e: crate::verify::crypto::KeyError) -> SettingsError {
    SettingsError::Flag { flag, value: path.display().to_string(), reason: e.to_string() }
}

/// The seal signer from `save --sign-key ...`.
pub fn seal_signer(a: &super::args::SaveArgs) -> Result<Option<crate::seal::SealSigner>, SettingsError> {
    signer(&a.signer)
}

/// The signer from `--sign-key KEY [--sign-algorithm ALG] [--sign-certificate CERT
/// [--sign-certificate-chain CHAIN]]` (save's seal, inventory); None without a key.
pub fn signer(a: &super::args::SignerArgs) -> Result<Option<crate::seal::SealSigner>, SettingsError> {
    let (algorithm, certificate, chain) = (a.sign_algorithm.as_deref(), &a.sign_certificate, &a.sign_certificate_chain);
    let Some(key_path) = a.sign_key.as_deref() else { return Ok(None) };
    let key = crate::verify::crypto::load_private_key(&read_file("--sign-key", key_path)?, None, "--sign-key")
        .map_err(|e| malformed("--sign-key", key_path, e))?;
    let algorithm = match algorithm {
        Some(s) => Some(s.parse().map_err(|e: crate::verify::crypto::UnknownAlgorithm| SettingsError::Flag {
            flag: "--sign-algorithm",
            value: s.to_owned(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    let text = |flag: &'static str, p: &Option<PathBuf>| -> Result<Option<String>, SettingsError> {
        match p {
            Some(p) => Ok(Some(String::from_utf8(read_file(flag, p)?).map_err(|_| SettingsError::File {
                what: flag,
                path: p.clone(),
                reason: "not PEM text".into(),
            })?)),
            None => Ok(None),
        }
    };
    Ok(Some(crate::seal::SealSigner {
        key,
        algorithm,
        certificate_pem: text("--sign-certificate", certificate)?,
        chain_pem: text("--sign-certificate-chain", chain)?,
    }))
}

/// Seal trust from `--bundle-key` / `--bundle-ca-roots` and identity flags; None when none given.
pub fn seal_trust(a: &super::args::SealTrustArgs) -> Result<Option<crate::seal::SealTrust>, SettingsError> {
    use crate::verify::crypto;
    let mut t = crate::seal::SealTrust::default();
    for p in &a.bundle_keys {
        let k = crypto::load_public_key(&read_file("--bundle-key", p)?, "--bundle-key")
            .map_err(|e| malformed("--bundle-key", p, e))?;
        t.keys.push(k);
    }
    if let Some(p) = &a.bundle_ca_roots {
        let certs = crypto::load_certificates(&read_file("--bundle-ca-roots", p)?, "--bundle-ca-roots")
            .map_err(|e| malformed("--bundle-ca-roots", p, e))?;
        t.roots = certs.into_iter().map(Into::into).collect();
    }
    let re = |flag: &'static str, v: &Option<String>| -> Result<Option<crate::verify::StringMatch>, SettingsError> {
        match v {
            Some(v) => {
                Ok(Some(crate::verify::StringMatch::Regex(regex::Regex::new(v).map_err(|e| SettingsError::Flag {
                    flag,
                    value: v.clone(),
                    reason: e.to_string(),
                })?)))
            }
            None => Ok(None),
        }
    };
    t.identity = re("--bundle-identity-regexp", &a.bundle_identity_regexp)?;
    t.issuer = re("--bundle-oidc-issuer-regexp", &a.bundle_oidc_issuer_regexp)?;
    if t.is_empty() {
        if t.identity.is_some() || t.issuer.is_some() {
            return Err(SettingsError::Flag {
                flag: "--bundle-identity-regexp",
                value: String::new(),
                reason: "needs --bundle-ca-roots".into(),
            });
        }
        return Ok(None);
    }
    // As `verify` requires --certificate-identity for certificate trust: a seal is only
    // worth something when it says who may have made it.
    if !t.roots.is_empty() && t.identity.is_none() {
        return Err(SettingsError::Flag {
            flag: "--bundle-ca-roots",
            value: a.bundle_ca_roots.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            reason: "needs --bundle-identity-regexp (use '.*' to accept any identity under these roots deliberately)"
                .into(),
        });
    }
    Ok(Some(t))
}

pub fn read_password_stdin() -> Result<String, SettingsError> {
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| SettingsError::Password(e.to_string()))?;
    let s = s.trim_end_matches(['\n', '\r']).to_owned();
    if s.is_empty() {
        return Err(SettingsError::Password("empty password".into()));
    }
    Ok(s)
}

/// Registry access settings from the command line (reads the password from stdin once).
pub fn registry_options(a: &super::args::RegistryArgs) -> Result<crate::registry::RegistryOptions, SettingsError> {
    let credentials = match &a.username {
        Some(u) => Some(crate::registry::Credentials { username: u.clone(), password: read_password_stdin()? }),
        None => None,
    };
    Ok(crate::registry::RegistryOptions {
        plain_http: a.plain_http,
        ca_certs: a.ca_certs.clone(),
        credentials,
        use_docker_config: true,
        max_retries: a.retries,
        timeout: std::time::Duration::from_secs(a.timeout),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_refuses_unknown_keys() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.toml");
        std::fs::write(&p, "images = [\"a.b/c:1\"]\nplatform = []\n").unwrap();
        assert!(Spec::load(&p).is_err());
        std::fs::write(&p, "images = [\"a.b/c:1\"]\nplatforms = [\"linux/amd64\"]\n").unwrap();
        assert_eq!(Spec::load(&p).unwrap().images, vec!["a.b/c:1"]);
    }
}
