//! The storage crate's integration tests, one binary (linking is most of a test build on two
//! cores), each on SQLite and, when `LINLI_TEST_DATABASE_URL` is set, on PostgreSQL.
//! `commit_faults` is a binary of its own: it lowers the whole process's file size limit.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod access;
mod announcements;
mod conformance;
mod engine;
mod group_commit;
mod partitions;
mod plans;
mod sqlite_faults;
mod time_bank;
