//! `sealift inventory --registry HOST[:PORT][/PREFIX] -o FILE [--sign-key KEY]`: what a
//! site's registry holds, written atomically as a site inventory (docs/inventory.md), with
//! a detached signature at `FILE.sig` when a key is given. Exits 0, 2 on a usage error, 3
//! when the registry cannot be listed or the file cannot be written.
// Doc comments here are also `--help` texts, where `[:PORT]`-style brackets are literal
// command-line syntax, not rustdoc links.
#![allow(rustdoc::broken_intra_doc_links)]

use std::path::{Path, PathBuf};

use crate::cli::args::InventoryArgs;
use crate::cli::commands::Failure;
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::inventory::{self, SIGNATURE_SUFFIX};
use crate::registry::Registry;
use crate::tempfiles::NewFile;
use crate::transfer::inspect::human;

/// `FILE` + `.sig`.
pub fn signature_path(output: &Path) -> PathBuf {
    let mut s = output.as_os_str().to_owned();
    s.push(SIGNATURE_SUFFIX);
    PathBuf::from(s)
}

/// Writes the inventory and, when signed, its signature as one set: both appear
/// together or neither does (an interrupt or a failed write leaves the previous pair).
fn write(files: &[NewFile<'_>]) -> anyhow::Result<()> {
    crate::tempfiles::write_all_atomic(files, ".sealift-inventory-")
        .map_err(|e| Failure::new(exit::FAILED, e.to_string()).into())
}

pub async fn run(args: InventoryArgs, ui: &Ui) -> anyhow::Result<u8> {
    let sig_path = signature_path(&args.output);
    settings::check_output_file(&args.output)?;
    settings::check_output_file(&sig_path)?;
    let target = super::registry_prefix(&args.registry)?;
    let signer = settings::signer(&args.signer)?;
    let parent = args.output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Failure::new(
            exit::FAILED,
            format!("cannot write {}: {} is not a directory", args.output.display(), parent.display()),
        )
        .into());
    }
    let registry = Registry::new(&target.host, &settings::registry_options(&args.registry_args)?)?;
    let walked =
        inventory::take(&registry, &target.prefix, args.registry_args.jobs as usize, crate::seal::created_now(), ui)
            .await;
    ui.clear();
    let inv = walked?;
    let bytes = inv.to_bytes();
    // Sign before writing anything: a key problem leaves no file behind.
    let signature = signer.as_ref().map(|s| crate::seal::sign(&bytes, s)).transpose()?;
    let file = NewFile { path: &args.output, bytes: &bytes, mode: 0o644 };
    match &signature {
        Some(sig) => write(&[NewFile { path: &sig_path, bytes: sig, mode: 0o644 }, file])?,
        None => {
            // A signature left from an earlier run would not match this file.
            match std::fs::remove_file(&sig_path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Failure::new(
                        exit::FAILED,
                        format!("cannot remove the stale signature {}: {e}", sig_path.display()),
                    )
                    .into())
                }
                _ => {}
            }
            write(&[file])?;
        }
    }
    let t = &inv.totals;
    if t.repositories == 0 {
        // Most likely a mistyped prefix, or a catalog that lists nothing to this user.
        ui.warn(&format!("the catalog of {} lists no repository under {:?}", target.host, target.prefix));
    }
    ui.status(&format!(
        "inventory of {}{}: {} repositories, {} tags, {} manifests, {} blobs ({}); written to {}{}",
        target.host,
        if target.prefix.is_empty() { String::new() } else { format!("/{}", target.prefix) },
        t.repositories,
        t.tags,
        t.manifests,
        t.blobs,
        human(t.blob_bytes),
        args.output.display(),
        if signature.is_some() { format!(" (signed: {})", sig_path.display()) } else { String::new() }
    ));
    Ok(exit::OK)
}
