//! Moving content: the save-side walk, admission, the load plan, and the save and load
//! drivers. The bundle content model they share is [`crate::content`].

pub mod admit;
pub mod delta;
pub mod inspect;
pub mod load;
pub mod plan;
mod publish;
pub mod push;
pub mod read;
pub mod save;
pub mod walk;
