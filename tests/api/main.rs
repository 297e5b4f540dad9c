//! The root's integration tests, one binary (linking one is most of a test build on two
//! cores): the HTTP API, the real `linli` binary and the web console, each module on SQLite
//! and, when `LINLI_TEST_DATABASE_URL` is set, on PostgreSQL.

#[macro_use]
mod support;

mod authz;
mod backup;
mod board;
mod check;
mod console;
mod crash;
mod demo;
mod directory;
mod disk_full;
mod dispatch;
mod district;
mod docs;
mod hostile;
mod hotline;
mod hotline_round_trip;
mod integrity;
mod inventory;
mod linked;
mod migrate;
mod nodes;
mod notifications;
mod open311;
mod outage;
mod partition;
mod photos;
mod practice;
mod report_in;
mod reports;
mod requests;
mod rights;
mod serve;
mod service;
mod sign_in;
mod time_bank;
mod timer_worker;
mod upgrade;
