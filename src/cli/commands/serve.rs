//! `sealift serve`: read each bundle's metadata, admit it exactly as `load` does (the
//! shared [`super::gate`]), locate its layers without reading them, then serve what was
//! admitted until SIGINT or SIGTERM.

use std::sync::Arc;

use crate::bundle::index::BundleIndex;
use crate::cli::args::ServeArgs;
use crate::cli::commands::{gate, Failure};
use crate::cli::progress::Ui;
use crate::cli::settings;
use crate::exit;
use crate::serve::{BlobSource, Listener, ServeError, State, TlsIdentity, View, ViewError};
use crate::transfer::plan::{Destination, PlanError};
use crate::transfer::read::{BundleSource, Layers};

pub async fn run(args: ServeArgs, ui: &Ui) -> anyhow::Result<u8> {
    let dest = prefix(args.prefix.as_deref())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(TlsIdentity {
            cert_pem: settings::read_file("TLS certificate", c)?,
            key_pem: settings::read_file("TLS key", k)?,
        }),
        _ => None,
    };
    // Handlers first: a signal after the readiness line must reach the drain, not kill.
    let signals = Signals::new()?;
    let how = gate::Admission {
        trust: &args.trust,
        seal: &args.seal,
        admit: args.admit,
        command: "serve",
        nothing: "nothing is served",
        partial_hint: "use --partial to serve the images that passed",
    };
    let mut view = View::default();
    for source in &args.sources {
        let shown = source.display().to_string();
        let (meta, layers) = BundleSource::open(source)?.read_metadata().await?;
        if args.sources.len() > 1 {
            ui.status(&format!("{}:", crate::escape::clean(&shown)));
        }
        let admitted = match gate::gate(&how, &meta, ui)? {
            Ok(a) => a,
            Err(code) => return Ok(code),
        };
        let added = match &layers {
            Layers::Dir(dir) => view.add(&meta, &admitted, &dest, |d| {
                dir.blob_location(d).ok().map(|(path, size)| BlobSource::File { path, offset: 0, size })
            }),
            Layers::Tar(rest) if rest.is_compressed() => return Err(compressed(&shown)),
            Layers::Tar(rest) => {
                // Headers only: the layers' bytes are hashed on their first request.
                let path = rest.path().to_owned();
                let index = tokio::task::spawn_blocking(move || BundleIndex::open(&path)).await??;
                let Some(index) = index else { return Err(compressed(&shown)) };
                view.add(&meta, &admitted, &dest, |d| {
                    index.blob(d).map(|at| BlobSource::File {
                        path: rest.path().to_owned(),
                        offset: at.offset,
                        size: at.size,
                    })
                })
            }
        };
        added.map_err(|e| match e {
            ViewError::Plan(PlanError::NoRepository { digest }) => anyhow::Error::from(Failure::new(
                exit::USAGE,
                format!("{shown}: entry {digest} has no repository name: give the repository to serve it as with --prefix REPO"),
            )),
            ViewError::MissingBlob { .. } => {
                anyhow::Error::from(Failure::new(exit::BAD_BUNDLE, format!("{shown}: {e}")))
            }
            e => anyhow::Error::new(e).context(shown.clone()),
        })?;
    }
    view.finish();
    for t in &view.moved_tags {
        ui.warn(&format!("tag {} is served from a later bundle", crate::escape::clean(t)));
    }
    let listener = Listener::bind(&args.listen, tls).await.map_err(|e| match e {
        ServeError::Tls { .. } => anyhow::Error::from(Failure::new(exit::USAGE, format!("--tls-cert/--tls-key: {e}"))),
        e => e.into(),
    })?;
    let addr = listener.local_addr()?;
    let scheme = if listener.is_tls() { "https" } else { "http" };
    let (repos, tags) = (view.repos.len(), view.image_tags());
    let state = Arc::new(State { view, blobs: Default::default() });
    if args.check_ahead {
        tokio::spawn(check_ahead(state.clone()));
    }
    // The readiness line, always (also under --quiet): scripts and tests wait for it.
    eprintln!("sealift serve: listening on {scheme}://{addr} ({repos} repositories, {tags} image tags)");
    let stopped_by = Arc::new(std::sync::Mutex::new(""));
    let by = stopped_by.clone();
    listener
        .run(state, async move {
            let name = signals.wait().await;
            *by.lock().unwrap_or_else(|p| p.into_inner()) = name;
        })
        .await;
    let name = *stopped_by.lock().unwrap_or_else(|p| p.into_inner());
    eprintln!("sealift serve: stopped ({name})");
    Ok(exit::OK)
}

fn compressed(shown: &str) -> anyhow::Error {
    Failure::new(
        exit::USAGE,
        format!(
            "{shown}: a compressed bundle cannot be served in place (its layers cannot be read by offset); unpack it (zstd -d / gunzip) or save without compression"
        ),
    )
    .into()
}

/// `--prefix`: a repository path, as in `load --to HOST/PREFIX`.
fn prefix(value: Option<&str>) -> anyhow::Result<Destination> {
    let Some(p) = value else {
        return Ok(Destination { host: String::new(), prefix: String::new(), default_tag: None });
    };
    match Destination::parse(&format!("serve.invalid/{p}")) {
        Ok(d) if d.default_tag.is_none() && !d.prefix.is_empty() => {
            Ok(Destination { host: String::new(), prefix: d.prefix, default_tag: None })
        }
        _ => {
            Err(Failure::new(exit::USAGE, format!("invalid --prefix {p:?}: expected a repository path (no tag)"))
                .into())
        }
    }
}

/// Hashes every layer in the background (`--check-ahead`), logging the damaged ones.
async fn check_ahead(state: Arc<State>) {
    let mut layers: Vec<_> = state.view.blobs.iter().filter(|(_, s)| matches!(s, BlobSource::File { .. })).collect();
    layers.sort_by(|a, b| a.0.cmp(b.0));
    let mut damaged = 0;
    for (digest, source) in &layers {
        match state.blobs.verify(digest, source).await {
            Ok(crate::serve::blobs::Verdict::Good) => {}
            Ok(crate::serve::blobs::Verdict::Damaged { reason }) => {
                damaged += 1;
                tracing::error!("blob {digest} in the bundle is damaged ({reason}); it will not be served");
            }
            Err(e) => tracing::error!("blob {digest}: cannot read it from the bundle: {e}"),
        }
    }
    eprintln!("sealift serve: --check-ahead: {} layer(s) hashed, {damaged} damaged", layers.len());
}

/// SIGINT and SIGTERM, installed before the first request.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        let fail = |e: std::io::Error| Failure::new(exit::FAILED, format!("cannot install signal handlers: {e}"));
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(fail)?,
            term: signal(SignalKind::terminate()).map_err(fail)?,
        })
    }

    async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
        }
    }
}
