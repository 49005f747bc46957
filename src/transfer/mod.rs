//! Moving content: the save-side walk, the bundle content model, the load plan, and the
//! save and load drivers.

pub mod admit;
pub mod inspect;
pub mod load;
pub mod model;
pub mod plan;
pub mod save;
pub mod walk;
