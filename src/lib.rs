//! sealift: carry container images across an air gap together with everything that
//! proves them (cosign signatures, certificates, attestations, SBOMs, OCI referrers).
//!
//! The binary is a thin layer over this library: [`cli::main`] parses arguments, runs
//! a command and maps its error to an exit code ([`exit`]).

pub mod assess;
pub mod audit;
pub mod bundle;
pub mod cli;
pub mod content;
pub mod cosign;
pub mod escape;
pub mod exit;
pub mod inventory;
pub mod layout;
pub mod oci;
pub mod progress;
pub mod registry;
pub mod seal;
pub mod serve;
pub mod sign;
pub mod tempfiles;
pub mod transfer;
pub mod trust;
pub mod verify;
