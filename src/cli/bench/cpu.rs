//! The CPU a measurement cost, this process's and (PostgreSQL on this machine) the
//! database server's, read from Linux's `/proc`. On a machine of two shared cores the rate
//! of one run moves by a fifth from the next; the CPU a lifecycle costs moves far less, and
//! says which side of the socket a change helped.

use std::time::Duration;

use storage::SqlStore;

/// `/proc` counts CPU in clock ticks of `USER_HZ`, which Linux's ABI fixes at 100 a second
/// (what `getconf CLK_TCK` prints) on every architecture it runs this program on.
fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 10)
}

/// CPU used so far: by this process, and by the database server if it is PostgreSQL on this
/// machine (`None` otherwise).
#[derive(Clone, Copy, Debug)]
pub struct Used {
    pub linli: Duration,
    pub server: Option<Duration>,
}

impl std::ops::Sub for Used {
    type Output = Used;

    fn sub(self, before: Used) -> Used {
        Used {
            linli: self.linli.saturating_sub(before.linli),
            server: self
                .server
                .zip(before.server)
                .map(|(after, before)| after.saturating_sub(before)),
        }
    }
}

pub async fn used(store: &SqlStore) -> Used {
    Used {
        linli: stat("self").map_or(Duration::ZERO, |s| s.own()),
        server: server(store).await,
    }
}

/// The CPU another process of this machine has used so far (`None` once it has gone).
pub fn of_process(pid: u32) -> Option<Duration> {
    stat(&pid.to_string()).map(|s| s.own())
}

/// The server's CPU: its postmaster's own, that of its children that have exited (the
/// backends of connections closed meanwhile, counted into the postmaster's when it reaped
/// them) and that of the children alive now. `None` on SQLite, or when the server's
/// processes are not this machine's.
async fn server(store: &SqlStore) -> Option<Duration> {
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(store.pg_pool()?)
        .await
        .ok()?;
    let postmaster = stat(&backend.to_string())?.ppid;
    let head = stat(&postmaster.to_string())?;
    let children: Duration = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|pid| stat(&pid))
        .filter(|s| s.ppid == postmaster)
        .map(|s| s.own())
        .sum();
    Some(head.own() + head.reaped() + children)
}

/// The fields of `/proc/<pid>/stat` this needs.
struct Stat {
    ppid: u32,
    /// utime, stime, cutime, cstime, in ticks.
    ticks: [u64; 4],
}

impl Stat {
    fn own(&self) -> Duration {
        ticks(self.ticks[0] + self.ticks[1])
    }

    fn reaped(&self) -> Duration {
        ticks(self.ticks[2] + self.ticks[3])
    }
}

fn stat(pid: &str) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: the fields start after its end.
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n)?.parse::<u64>().ok();
    Some(Stat {
        ppid: field(1)? as u32,
        ticks: [field(11)?, field(12)?, field(13)?, field(14)?],
    })
}
