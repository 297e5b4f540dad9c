//! The core's integration tests, one binary: the decisions, the workflow loader and its
//! validation, dispatch ranking, migration plans and the properties that hold for any input.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod decide;
mod dispatch;
mod loader_fuzz;
mod migrate;
mod properties;
mod validation;
