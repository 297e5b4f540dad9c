//! Workflow definitions: the TOML format ([`raw`]), its loader and validator ([`load`]), and
//! the validated model the rest of the core works from ([`model`]).

mod load;
mod model;
mod raw;

pub use load::{LoadError, SYSTEM_EVENTS, Source, load};
pub use model::*;
