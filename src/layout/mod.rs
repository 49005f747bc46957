//! An OCI image layout as a plain directory: reading one (`cosign save` output, `skopeo
//! copy oci:` output, a bundle unpacked by hand) and writing one (`sealift save -o DIR/`).
//!
//! The same allow-list and caps as the bundle apply ([`crate::bundle::names`]); errors are
//! [`crate::bundle::BundleError`] (re-exported here as [`LayoutError`]).

pub mod dir;
pub mod writer;

#[cfg(test)]
mod tests;

pub use crate::bundle::BundleError as LayoutError;
pub use dir::LayoutDir;
pub use writer::LayoutWriter;
