//! `sealift serve`: bundles as a verified, read-only OCI registry, in place (issue 12).
//!
//! - [`view`]: what is served, built only from admission's [`crate::transfer::admit::Admitted`]
//!   through the load plan, so a refused image has no name, tag, manifest or blob here.
//! - [`blobs`]: a layer is hashed before its first byte is served, once; a damaged one is
//!   never served.
//! - [`route`]: request paths and queries, parsed as hostile input.
//! - [`http`]: the read-only Distribution API (manifests, blobs with Range, tags and
//!   catalog with pagination, referrers with `artifactType`); every write is 405.
//! - [`server`]: the listener (HTTP/1.1, optional TLS), bounded, with a clean shutdown.

pub mod blobs;
pub mod http;
pub mod route;
pub mod server;
pub mod view;

pub use http::State;
pub use server::{Listener, ServeError, TlsIdentity};
pub use view::{BlobSource, View, ViewError};
