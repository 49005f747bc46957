//! Pure OCI types: digests, references, media types, descriptors and manifests. No I/O.

pub mod digest;
pub mod manifest;
pub mod media;
pub mod reference;

pub use digest::Digest;
pub use manifest::{Descriptor, Index, Manifest, Platform};
pub use reference::Reference;
