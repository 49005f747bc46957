//! `sealift load`: check a bundle, then push it to the target digest for digest.

use crate::cli::args::LoadArgs;
use crate::cli::commands::{gate, Failure};
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::registry::Registry;
use crate::transfer::inspect::human;
use crate::transfer::load::{self, Loader, Pass};
use crate::transfer::plan::Destination;
use crate::transfer::read::BundleSource;

/// A tag in `--to` is for a layout whose images carry no repository name (`cosign save`,
/// plain OCI layouts): for a sealift bundle it would be silently meaningless, so refuse it.
/// And an image that would end up with no tag at all is refused rather than pushed untagged.
fn check_target_names(meta: &crate::content::Metadata, dest: &Destination, to: &str) -> anyhow::Result<()> {
    let named = meta.contents.entries.iter().any(|e| !e.repository.is_empty());
    if named && dest.default_tag.is_some() {
        return Err(Failure::new(
            exit::USAGE,
            format!(
                "--to {to:?}: this bundle names its repositories and tags; give HOST[:PORT][/PREFIX] without a tag"
            ),
        )
        .into());
    }
    let untagged = meta
        .contents
        .entries
        .iter()
        .any(|e| e.role == crate::content::Role::Image && e.repository.is_empty() && e.tag.is_none());
    if untagged && dest.default_tag.is_none() {
        return Err(Failure::new(
            exit::USAGE,
            format!("--to {to:?}: the layout's image has no tag; give one as HOST/REPO:TAG"),
        )
        .into());
    }
    Ok(())
}

/// `--to`: for a bundle, `HOST[:PORT][/PREFIX]`; for a layout without repository names
/// (from `cosign save`), the full target reference `HOST/REPO[:TAG]`.
fn destination(to: &str) -> anyhow::Result<Destination> {
    Destination::parse(to)
        .map_err(|e| Failure::new(exit::USAGE, format!("invalid --to {:?}: {}", e.value, e.reason)).into())
}

pub async fn run(args: LoadArgs, ui: &Ui) -> anyhow::Result<u8> {
    let dest = destination(&args.to)?;
    let registry = Registry::new(&dest.host, &settings::registry_options(&args.registry)?)?;
    // Reach the target first: a clear error (auth, TLS, plain http against https) before any work.
    registry.ping().await?;
    // A volume set: every part is read and checked against its part list first, so that a
    // missing, swapped, foreign or damaged part is named before anything is pushed.
    // With bundle trust, the part list's signature is checked before that.
    if let Some(set) = crate::bundle::volumes::PartSet::for_bundle(&args.source)? {
        let signed = match settings::seal_trust(&args.seal)? {
            Some(trust) => format!("; part list signed by {}", super::verify::part_list_signer(&set, &trust)?),
            None => String::new(),
        };
        tokio::task::block_in_place(|| set.check_all())?;
        ui.status(&format!("checked {} part(s) of set {}{signed}", set.list.parts.len(), set.list.set));
    }
    let (meta, layers) = BundleSource::open(&args.source)?.read_metadata().await?;
    let unlisted = meta.unlisted();
    if !unlisted.is_empty() {
        ui.warn(&format!(
            "{} blob(s) in the bundle are not referenced by index.json and are ignored (first: {})",
            unlisted.len(),
            unlisted[0]
        ));
    }
    check_target_names(&meta, &dest, &args.to)?;
    // The seal first, then every image: nothing is pushed that admission did not let through.
    let how = gate::Admission {
        trust: &args.trust,
        seal: &args.seal,
        admit: args.admit,
        command: "load",
        nothing: "nothing was pushed",
        partial_hint: "use --partial to push the images that passed",
    };
    let admitted = match gate::gate(&how, &meta, ui)? {
        Ok(a) => a,
        Err(code) => return Ok(code),
    };
    let refused = admitted.refused();
    let plan = load::plan(&meta, &dest, &admitted)?;
    let loader = Loader {
        registry: &registry,
        jobs: args.registry.jobs as usize,
        reporter: std::sync::Arc::new(ui.clone()),
        pass: if args.check_first { Pass::CheckFirst } else { Pass::One },
    };
    let mut present = loader.present_blobs(&plan).await?;
    // A delta bundle: every blob it assumes must be at the target before anything is
    // uploaded (exit 4 otherwise, naming the blobs and who promised them).
    let jobs = args.registry.jobs as usize;
    crate::transfer::delta::check_at_target(&registry, jobs, &meta, &plan, &dest, &mut present).await?;
    let delta = &meta.contents.delta;
    if !delta.is_empty() {
        let needed: Vec<u64> = plan.blobs().keys().filter_map(|d| delta.get(d)).map(|a| a.size).collect();
        ui.status(&format!(
            "delta bundle: the {} assumed blob(s) ({}) this load needs are at the target",
            needed.len(),
            human(needed.iter().sum())
        ));
    }

    if args.dry_run {
        // A dry run reads the whole bundle first: it says whether the real load would succeed.
        layers.check(&meta).await?;
        let pairs: usize = plan.blobs().values().map(|r| r.len()).sum();
        // Only pairs of the plan: a delta's check may have found a blob in another
        // repository, to mount from.
        let present_pairs = plan
            .blobs()
            .iter()
            .flat_map(|(d, repos)| repos.iter().map(move |r| (d, r)))
            .filter(|(d, r)| present.contains(&((*d).clone(), (*r).clone())))
            .count();
        for p in plan.manifests() {
            let there = registry.head_manifest(&p.repository, &p.digest.to_string()).await?.is_some();
            let what = if there { "present" } else { "push" };
            let tag = p.tag.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
            let (repo, tag) = (crate::escape::clean(&p.repository), crate::escape::clean(&tag));
            crate::cli::print_text(format!("{what:7} {}/{repo}{tag}@{}\n", dest.host, p.digest))?;
        }
        let missing_bytes: u64 = plan
            .blobs()
            .iter()
            .flat_map(|(d, repos)| repos.iter().map(move |r| (d, r)))
            .filter(|(d, r)| !present.contains(&((*d).clone(), (*r).clone())))
            .map(|(d, _)| meta.contents.blobs.get(d).map_or(0, |b| b.size))
            .sum();
        crate::cli::print_text(format!(
            "blobs: {} to push ({}), {} already present\n",
            pairs - present_pairs,
            human(missing_bytes),
            present_pairs
        ))?;
        crate::cli::print_text("every blob of the bundle checked (digest and size); nothing pushed (dry run)\n")?;
        return Ok(if refused > 0 { exit::REJECTED } else { exit::OK });
    }

    let total: u64 =
        meta.contents.blobs.iter().filter(|(d, b)| !b.metadata && !delta.assumes(d)).map(|(_, b)| b.size).sum();
    ui.start_bytes("load", total);
    let report = loader.push(&meta, &plan, present, layers).await;
    ui.clear();
    let report = report?;
    for t in &report.tags {
        ui.status(&format!("tagged {t}"));
    }
    for k in &report.kept_tags {
        ui.warn(&format!(
            "kept {} at {}: the bundle's {} did not verify under this trust, so it does not replace it (pushed by digest only)",
            k.reference, k.kept, k.offered
        ));
    }
    ui.status(&format!(
        "uploaded {} blobs ({}), {} already present, {} mounted; pushed {} manifests, {} already present",
        report.uploaded_blobs,
        human(report.uploaded_bytes),
        report.present_blobs,
        report.mounted_blobs,
        report.pushed_manifests,
        report.present_manifests
    ));
    Ok(if refused > 0 { exit::REJECTED } else { exit::OK })
}
