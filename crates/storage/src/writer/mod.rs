//! Group commit: the writes of concurrent callers are applied together, in one transaction
//! of a few statements whatever its size (on PostgreSQL usually a single statement,
//! [`batch`]), and each caller is answered only after that transaction commits, so an
//! acknowledged transition is as durable as before while a commit (and its fsync) is shared
//! by every transition that arrived meanwhile.
//!
//! Batches form on their own: a writer takes whatever is queued when it becomes free, and a
//! lone write is written at once, as before (no added waiting when idle): when nothing is
//! queued and no writer is writing, the caller writes on its own task, without the hop
//! through the queue to a writer task and back. While one writer is writing, a write that
//! finds the queue empty waits for a companion or for that writer to finish, whichever comes
//! first, rather than take a second writer for a commit of its own ([`gather`]). A write
//! that fails its checks fails alone ([`plan`]); if a batch statement itself fails (a race
//! with another node, the disk, a connection the server closed), the batch is rolled back
//! and every write retried on its own, so no write is ever failed by a neighbour. A batch
//! the database did not answer within [`crate::Options::timeout`] is not retried: its
//! callers are answered `Unavailable` at once, and whether it committed is unknown.

mod batch;
pub(crate) mod plan;
pub(crate) mod rows;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use plan::Outcome;
pub(crate) use plan::Write;
use tokio::sync::{Mutex, Notify, Semaphore, SemaphorePermit, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use workflow_core::store::StoreError;

use crate::SqlStore;

impl SqlStore {
    /// PostgreSQL's generic plans for a batch's statements, the plans each writer connection
    /// keeps reusing: how tests check that no part of a batch reads a whole table. `None` on
    /// SQLite, whose batches name every row by its primary key.
    pub async fn explain_batch(&self) -> Result<Option<Vec<String>>, StoreError> {
        match &*self.backend {
            crate::Backend::Postgres { batches, .. } => {
                Ok(Some(crate::postgres::batch::explain(batches).await?))
            }
            crate::Backend::Sqlite { .. } => Ok(None),
        }
    }
}

/// The most writes in one batch.
const MAX_BATCH: usize = 128;
/// Writes waiting beyond this make callers wait to enqueue (back-pressure, bounded memory).
const QUEUE: usize = 4096;

struct Job {
    write: Write,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// The callers' side of the writers.
#[derive(Debug)]
pub(crate) struct GroupWriter {
    queue: mpsc::Sender<Job>,
    slots: Arc<Slots>,
    direct: SqlStore,
    counts: Arc<Counts>,
    /// Set to stop the writer tasks ([`GroupWriter::stop`]).
    stopping: watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// One per writer: held while writing, by a writer task or by a caller writing directly.
#[derive(Debug)]
struct Slots {
    permits: Semaphore,
    writers: usize,
    /// Told whenever a slot is handed back.
    freed: Notify,
}

impl Slots {
    fn new(writers: usize) -> Slots {
        Slots {
            permits: Semaphore::new(writers),
            writers,
            freed: Notify::new(),
        }
    }

    /// Whether no write is being written (by this node's writers).
    fn all_free(&self) -> bool {
        self.permits.available_permits() == self.writers
    }

    fn try_take(&self) -> Option<Slot<'_>> {
        let permit = self.permits.try_acquire().ok()?;
        Some(Slot {
            permit: Some(permit),
            slots: self,
        })
    }

    /// `None` once the semaphore is closed (never, as things stand).
    async fn take(&self) -> Option<Slot<'_>> {
        let permit = self.permits.acquire().await.ok()?;
        Some(Slot {
            permit: Some(permit),
            slots: self,
        })
    }
}

/// A writer's slot, handed back (and a gathering writer told) when dropped, a write given up
/// halfway included.
struct Slot<'a> {
    permit: Option<SemaphorePermit<'a>>,
    slots: &'a Slots,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.slots.freed.notify_waiters();
    }
}

/// How the writes went: batches formed, and writes committed in them or on their own.
#[derive(Debug, Default)]
struct Counts {
    batches: AtomicU64,
    batched: AtomicU64,
    alone: AtomicU64,
    reread: AtomicU64,
}

/// A snapshot of the group writer's counts (tests and benchmarks read it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions that wrote two or more transitions.
    pub batches: u64,
    /// Writes that went through such a transaction (refused ones included).
    pub batched: u64,
    /// Writes written in a transaction of their own (a lone write, a retry, a repeat).
    pub alone: u64,
    /// PostgreSQL batches whose one checked statement was refused (a version had moved, a
    /// key was taken), written again after reading what they depend on.
    pub reread: u64,
}

impl std::ops::Sub for WriterStats {
    type Output = WriterStats;

    /// What happened between two snapshots.
    fn sub(self, before: WriterStats) -> WriterStats {
        WriterStats {
            batches: self.batches - before.batches,
            batched: self.batched - before.batched,
            alone: self.alone - before.alone,
            reread: self.reread - before.reread,
        }
    }
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("ticket", &self.write.ticket_id())
            .finish()
    }
}

impl GroupWriter {
    /// Starts `writers` writer tasks on `direct` (a store that writes without the queue).
    /// They stop when told to ([`GroupWriter::stop`]) or when the last `GroupWriter` handle
    /// is dropped.
    pub(crate) fn spawn(direct: SqlStore, writers: usize) -> GroupWriter {
        let (queue, jobs) = mpsc::channel(QUEUE);
        let jobs = Arc::new(Mutex::new(jobs));
        let counts = Arc::new(Counts::default());
        let slots = Arc::new(Slots::new(writers.max(1)));
        let (stopping, stop) = watch::channel(false);
        let tasks = (0..writers.max(1))
            .map(|_| {
                tokio::spawn(run(
                    direct.clone(),
                    jobs.clone(),
                    slots.clone(),
                    counts.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        GroupWriter {
            queue,
            slots,
            direct,
            counts,
            stopping,
            tasks: std::sync::Mutex::new(tasks),
        }
    }

    /// Stops the writer tasks once each has finished the batch it is writing, and waits for
    /// them (they hold connections a pool's `close` would wait for). Writes still queued are
    /// answered that the writer stopped.
    pub(crate) async fn stop(&self) {
        self.stopping.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
    }

    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counts.batches.load(Ordering::Relaxed),
            batched: self.counts.batched.load(Ordering::Relaxed),
            alone: self.counts.alone.load(Ordering::Relaxed),
            reread: self.counts.reread.load(Ordering::Relaxed),
        }
    }

    /// Writes at once if nothing waits and a writer slot is free; otherwise queues the write
    /// for the next batch. Either way, returns once it is committed or refused.
    pub(crate) async fn write(&self, write: Write) -> Result<(), StoreError> {
        let idle = self.queue.capacity() == self.queue.max_capacity();
        if idle
            && self.slots.all_free()
            && let Some(_slot) = self.slots.try_take()
        {
            self.counts.alone.fetch_add(1, Ordering::Relaxed);
            return self.direct.write_noted(write).await;
        }
        let stopped = || StoreError::Unavailable("the database writer has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { write, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn run(
    store: SqlStore,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    slots: Arc<Slots>,
    counts: Arc<Counts>,
    mut stop: watch::Receiver<bool>,
) {
    // The batch connection this writer keeps between batches (PostgreSQL).
    let mut held = batch::Held::default();
    loop {
        let batch = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return,
            batch = gather(&jobs, &slots) => match batch {
                Some(batch) => batch,
                None => return,
            },
        };
        let Some(_slot) = slots.take().await else {
            return;
        };
        write(&store, batch, &counts, &mut held).await;
    }
}

/// What is queued, once something is: one writer at a time gathers a batch, the others are
/// writing theirs meanwhile. `None` once no handle can queue any more.
///
/// A write found alone while another writer is writing waits for a second write or for that
/// writer to finish: a commit of its own beside the other's would cost the database a whole
/// transaction for one write, and with the database on the same cores as its callers that
/// cost is what limits them (docs/DECISIONS.md, "Group commit"). Under load the queue is
/// never down to one, so the writers still overlap; the wait is at most the other's commit,
/// which a lone write on one writer would wait for anyway.
async fn gather(jobs: &Mutex<mpsc::Receiver<Job>>, slots: &Slots) -> Option<Vec<Job>> {
    let mut jobs = jobs.lock().await;
    let first = jobs.recv().await?;
    let mut batch = vec![first];
    take_queued(&mut jobs, &mut batch);
    if batch.len() == 1 {
        let freed = slots.freed.notified();
        tokio::pin!(freed);
        // Registered before the check, so a slot handed back in between still wakes it.
        freed.as_mut().enable();
        if !slots.all_free() {
            tokio::select! {
                job = jobs.recv() => batch.extend(job),
                () = freed => {}
            }
            take_queued(&mut jobs, &mut batch);
        }
    }
    Some(batch)
}

/// Adds what is queued to `batch`, up to [`MAX_BATCH`].
fn take_queued(jobs: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

async fn write(store: &SqlStore, batch: Vec<Job>, counts: &Counts, held: &mut batch::Held) {
    if let [job] = &batch[..] {
        counts.alone.fetch_add(1, Ordering::Relaxed);
        let result = store.write_alone(&job.write).await;
        answer(store, batch, vec![result]);
        return;
    }
    let writes: Vec<&Write> = batch.iter().map(|j| &j.write).collect();
    let Ok(written) = tokio::time::timeout(store.timeout, store.write_batch(&writes, held)).await
    else {
        // Stopped mid-statement: the next batch takes a connection afresh.
        *held = None;
        let e = store.timed_out();
        tracing::warn!(error = %e, writes = writes.len(), "batch given up");
        let results = vec![Err(e); writes.len()];
        answer(store, batch, results);
        return;
    };
    let results = match written {
        Ok(batch::Written { outcomes, reread }) => {
            counts.batches.fetch_add(1, Ordering::Relaxed);
            counts
                .reread
                .fetch_add(u64::from(reread), Ordering::Relaxed);
            counts
                .batched
                .fetch_add(writes.len() as u64, Ordering::Relaxed);
            let mut results = Vec::with_capacity(outcomes.len());
            for (w, outcome) in writes.iter().zip(outcomes) {
                results.push(match outcome {
                    Outcome::Write => Ok(()),
                    Outcome::Fail(e) => Err(e),
                    Outcome::Alone => {
                        counts.alone.fetch_add(1, Ordering::Relaxed);
                        store.write_alone(w).await
                    }
                });
            }
            results
        }
        Err(e) => {
            tracing::debug!(error = %e, writes = writes.len(), "batch rolled back; writing each alone");
            counts
                .alone
                .fetch_add(writes.len() as u64, Ordering::Relaxed);
            let mut results = Vec::with_capacity(writes.len());
            for (job, w) in batch.iter().zip(&writes) {
                if job.reply.is_closed() {
                    // Its caller stopped waiting (answered 503 at its deadline, or gone),
                    // not knowing the write's outcome: it is left unwritten, not written late.
                    results.push(Err(e.clone()));
                    continue;
                }
                results.push(match store.write_alone(w).await {
                    // The batch did commit, and only its answer was lost (the connection
                    // broke after the commit): the ticket this write creates, under an id
                    // made for it alone, is there because of it.
                    Err(StoreError::Duplicate(id)) if w.creates() == Some(id) => Ok(()),
                    written => written,
                });
            }
            results
        }
    };
    answer(store, batch, results);
}

/// Each caller hears how its write went, once its tickets are remembered (or forgotten):
/// the caller's next action on a ticket finds it as this write left it.
fn answer(store: &SqlStore, batch: Vec<Job>, results: Vec<Result<(), StoreError>>) {
    for (job, result) in batch.into_iter().zip(results) {
        store.note_written(job.write, &result);
        // A caller that gave up waiting is not there to hear; its write stands.
        let _ = job.reply.send(result);
    }
}

impl SqlStore {
    /// One write in its own transaction.
    pub(crate) async fn write_alone(&self, w: &Write) -> Result<(), StoreError> {
        self.within_timeout(async {
            match w {
                Write::Apply(d, idem) => self.apply_decision(d, idem.as_ref()).await,
                Write::Fire(t, d) => self.fire_timer(t, d.as_ref()).await,
                Write::Linked(ds, fired) => self.apply_linked_decisions(ds, fired.as_ref()).await,
            }
        })
        .await
    }

    /// `write` if it is done within [`crate::Options::timeout`]; else it is given up
    /// (dropped where it stands: a SQLite text stops before its `COMMIT` and its connection
    /// is closed, a PostgreSQL connection is dropped) and `Unavailable` is answered. Whether
    /// it committed is then unknown, as for any write whose answer was lost.
    pub(crate) async fn within_timeout<T>(
        &self,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.timeout, write)
            .await
            .unwrap_or_else(|_| Err(self.timed_out()))
    }

    fn timed_out(&self) -> StoreError {
        StoreError::Unavailable(format!(
            "the database did not answer within {} s; whether the write was made is unknown",
            self.timeout.as_secs_f32()
        ))
    }

    /// One write in its own transaction, its tickets then remembered (or forgotten).
    pub(crate) async fn write_noted(&self, write: Write) -> Result<(), StoreError> {
        let written = self.write_alone(&write).await;
        self.note_written(write, &written);
        written
    }
}
