//! Route modules, one per resource; each owns its request and response types.

pub mod admin;
pub mod audit;
pub mod board;
pub mod catalog;
pub mod feedback;
pub mod hotline;
pub mod my_data;
pub mod ops;
pub mod outbox;
pub mod people;
pub mod photos;
pub mod rates;
pub mod report_in;
pub mod reports;
pub mod service;
pub mod sessions;
pub mod stream;
pub mod tickets;
pub mod time_bank;
pub mod wall;
