//! Moving content: the save-side walk, the bundle content model, and the load plan.

pub mod model;
pub mod walk;
