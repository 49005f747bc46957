//! Moving content: the save-side walk, the bundle content model, the load plan, and the
//! save and load drivers.

pub mod admit;
pub mod inspect;
pub mod load;
/// The content model moved below transfer ([`crate::content`]); this name stays for the
/// save-side code that still uses it.
pub use crate::content as model;
pub mod plan;
pub mod push;
pub mod read;
pub mod save;
pub mod walk;
