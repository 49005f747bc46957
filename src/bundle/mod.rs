//! The bundle tarball: one OCI image layout inside a tar (optionally zstd or gzip), written
//! deterministically and read back through an allow-list, one streaming pass each way.
//!
//! Entry order: `oci-layout`, `index.json`, optionally `sealift-index.json` and
//! `sealift-index.json.sig`, then `blobs/sha256/<hex>` (metadata blobs first, then layers;
//! the caller decides). The bundle knows nothing of registries.
//!
//! - [`writer::BundleWriter`] / [`writer_async::AsyncBundleWriter`]: write (temp file + rename).
//! - [`reader::BundleReader`] / [`reader_async::AsyncBundleReader`]: read and check.
//! - [`index::BundleIndex`]: where each blob of an uncompressed bundle lies (headers only).

pub mod error;
mod guard;
pub mod index;
pub mod names;
pub mod reader;
pub mod reader_async;
pub mod verify;
pub mod writer;
pub mod writer_async;

#[cfg(test)]
mod tests;

pub use error::BundleError;
pub use index::{BundleIndex, Span};
pub use reader::{BlobEntry, BundleReader, Entries, Entry};
pub use reader_async::{AsyncBlob, AsyncBundleReader, AsyncEntry, BlobBody};
pub use verify::VerifyingReader;
pub use writer::{BundleWriter, Compression};
pub use writer_async::AsyncBundleWriter;
