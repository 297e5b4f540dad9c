//! SQLite's writer connection after a failed write: made known again, or closed.
//!
//! When a `COMMIT` (or a statement) fails because the disk is full or refuses to write,
//! SQLite rolls the whole transaction back by itself (`SQLITE_FULL`, `SQLITE_IOERR`: see
//! "Response To Errors Within A Transaction" in SQLite's documentation). sqlx 0.8 does not
//! know that. Its `Transaction::commit` leaves the connection's transaction depth at 1 when
//! the `COMMIT` fails; the `Transaction`'s drop then sends a `ROLLBACK`, which SQLite refuses
//! ("no transaction is active"), so the depth stays at 1 (sqlx-sqlite's worker only lowers it
//! when the statement succeeds). On the next `begin()` sqlx thinks it is nested and sends
//! `SAVEPOINT` instead of `BEGIN`; a failure in that one is undone with `ROLLBACK TO
//! SAVEPOINT`, which leaves SQLite's transaction open; and every later "commit" is a `RELEASE`
//! inside that open transaction, answered as committed while nothing reaches the file, until
//! a `BEGIN` meets it ("cannot start a transaction within a transaction") and the `ROLLBACK`
//! after it throws all of it away.
//!
//! So the writer pool takes a connection back only when sqlx's depth says no transaction is
//! open ([`outside_any_transaction`]), and a text that opens its own transaction
//! ([`OwnTransaction`]) keeps its connection after a failure only if its own `ROLLBACK`
//! succeeds. A connection in doubt is closed (closing rolls back whatever it held) and the
//! pool opens a fresh one for the next write.

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Sqlite, SqliteConnection};

/// The writer pool's `after_release` test: whether a connection handed back may be pooled.
/// A `Transaction` dropped without a commit has its `ROLLBACK` queued on the connection's
/// thread, not yet run: a ping, answered after it, says how it went.
pub(crate) async fn outside_any_transaction(
    conn: &mut SqliteConnection,
) -> Result<bool, sqlx::Error> {
    if conn.is_in_transaction() {
        conn.ping().await?;
    }
    Ok(!conn.is_in_transaction())
}

/// SQLite's writer connection while a text that begins and commits its own transaction
/// (`BEGIN IMMEDIATE; …; COMMIT`) runs on it, outside sqlx's bookkeeping.
///
/// Finished with [`OwnTransaction::release`] after the text succeeded, or with
/// [`OwnTransaction::recover`] after it failed. Dropped before either (its caller stopped
/// waiting, and sqlx's thread stops a text whose answer nobody reads where it is), the
/// connection is closed instead of going back to the pool: the transaction is rolled back
/// with it, never handed to the next write.
pub(crate) struct OwnTransaction(Option<PoolConnection<Sqlite>>);

impl OwnTransaction {
    pub(crate) fn new(connection: PoolConnection<Sqlite>) -> OwnTransaction {
        OwnTransaction(Some(connection))
    }

    pub(crate) fn connection(&mut self) -> &mut SqliteConnection {
        self.0.as_mut().expect("held until released")
    }

    /// The text committed: the connection goes back to the pool.
    pub(crate) fn release(mut self) {
        self.0.take();
    }

    /// The text failed somewhere between its `BEGIN` and its `COMMIT` (or at either): rolls
    /// back what it began. A `ROLLBACK` that succeeds ends the transaction, and the connection
    /// is pooled (a conflict stopped the text). One that fails says that no transaction was
    /// open (the text failed before its `BEGIN`, or SQLite rolled back by itself after a
    /// disk error) or that something is wrong: either way the connection is closed rather
    /// than trusted, which costs a reconnect after a failure of the disk.
    pub(crate) async fn recover(mut self) {
        if sqlx::query("ROLLBACK")
            .execute(self.connection())
            .await
            .is_ok()
        {
            self.release();
        }
    }
}

impl Drop for OwnTransaction {
    fn drop(&mut self) {
        if let Some(connection) = self.0.as_mut() {
            connection.close_on_drop();
        }
    }
}
