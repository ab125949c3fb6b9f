//! Group commit. Small uploads: one thread stores every small envelope waiting at once in one
//! durable transaction (`Vault::put_raw_group`), then answers each. Small reads: another
//! thread reads every envelope asked for at once from one snapshot and logs all those reads
//! in one durable transaction (`Vault::get_raw_group`) before answering any. While a group
//! commits, the next ones queue, so the busier the server, the larger the groups.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

// Envelope bytes a group gathers at most: a large put's staged group (a larger transaction
// makes redb write its pages twice). One batch request alone may hold more.
use lockbox::store::STAGE_BYTES as MAX_GROUP_BYTES;
use lockbox::vault::{Error, ItemInfo, RawGet, RawPut, Vault};
use tokio::sync::oneshot;

/// Uploads stored, or reads logged, in one transaction at most.
const MAX_GROUP: usize = 1024;
/// Small uploads read whole and waiting at once, at most: beyond it an upload streams (so
/// memory held by waiting uploads stays under this times 256 KiB).
pub const WAITING: usize = 64;

/// A job of a group and where its outcome goes.
type Job<J, R> = (J, oneshot::Sender<Result<R, Error>>);

/// A queue to one group thread.
struct Queue<J, R> {
    jobs: Sender<Job<J, R>>,
}

impl<J: Send + 'static, R: Send + 'static> Queue<J, R> {
    /// Starts thread `name`, which hands every job waiting at once (up to [`MAX_GROUP`], and
    /// up to [`MAX_GROUP_BYTES`] as `bytes` counts them) to `run` and answers each.
    fn start(
        name: &str,
        bytes: fn(&J) -> usize,
        run: impl Fn(&[J]) -> Vec<Result<R, Error>> + Send + 'static,
    ) -> Result<Queue<J, R>, Error> {
        let (jobs, queue) = channel();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || serve_groups(queue, bytes, run))
            .map_err(|e| Error::other(format!("cannot start the {name} thread: {e}")))?;
        Ok(Queue { jobs })
    }

    /// Queues every one of `jobs`; their outcomes, in order, once their groups are done.
    async fn submit(&self, jobs: Vec<J>) -> Vec<Result<R, Error>> {
        let stopped = || Error::other("the server's group thread stopped");
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs {
            let (reply, answer) = oneshot::channel();
            answers.push(self.jobs.send((job, reply)).map(|()| answer));
        }
        let mut out = Vec::with_capacity(answers.len());
        for answer in answers {
            out.push(match answer {
                Ok(answer) => answer.await.unwrap_or_else(|_| Err(stopped())),
                Err(_) => Err(stopped()),
            });
        }
        out
    }
}

fn serve_groups<J, R>(
    queue: Receiver<Job<J, R>>,
    bytes_of: fn(&J) -> usize,
    run: impl Fn(&[J]) -> Vec<Result<R, Error>>,
) {
    while let Ok(first) = queue.recv() {
        let mut bytes = bytes_of(&first.0);
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            match queue.try_recv() {
                // A client that went away is not waiting for its answer: its job is dropped
                // undone (it was never acknowledged).
                Ok(job) if job.1.is_closed() => {}
                Ok(job) => {
                    bytes += bytes_of(&job.0);
                    jobs.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let (work, replies): (Vec<J>, Vec<_>) = jobs.into_iter().unzip();
        // A panic here must not stop every later job: the group is answered with an error
        // and the thread goes on.
        let results =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&work))).unwrap_or_else(|_| {
                tracing::error!(group = work.len(), "a group thread panicked; the group was not done");
                work.iter().map(|_| Err(Error::other("the server failed to do this"))).collect()
            });
        tracing::debug!(group = work.len(), "group committed");
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}

/// The queues to the group writer and the group reader.
pub struct Group {
    writes: Queue<RawPut, ItemInfo>,
    reads: Queue<RawGet, Option<Vec<u8>>>,
    /// Places for uploads read whole and waiting for their group.
    pub places: Arc<tokio::sync::Semaphore>,
}

impl Group {
    /// Starts the writer and the reader on `vault`.
    pub fn start(vault: Vault) -> Result<Group, Error> {
        let writer = vault.clone();
        let writes = Queue::start(
            "lockbox-group",
            |p: &RawPut| p.envelope.len(),
            move |puts| store_group(&writer, puts),
        )?;
        // A read's size is not known before it is read: the reader bounds a group's bytes.
        let reads = Queue::start(
            "lockbox-reads",
            |_: &RawGet| 0,
            move |gets| match vault.get_raw_group(gets) {
                Ok(results) => results,
                Err(e) => gets.iter().map(|_| Err(e.clone())).collect(),
            },
        )?;
        Ok(Group { writes, reads, places: Arc::new(tokio::sync::Semaphore::new(WAITING)) })
    }

    /// Stores `put` with whatever else is waiting; its outcome once its group is durable.
    pub async fn put(&self, put: RawPut) -> Result<ItemInfo, Error> {
        self.put_many(vec![put]).await.pop().unwrap_or_else(|| Err(Error::other("no outcome")))
    }

    /// Stores every one of `puts` with whatever else is waiting; their outcomes, in order,
    /// once their groups are durable.
    pub async fn put_many(&self, puts: Vec<RawPut>) -> Vec<Result<ItemInfo, Error>> {
        self.writes.submit(puts).await
    }

    /// Reads every one of `gets` with whatever else is asked for meanwhile: each envelope once
    /// its read is durably logged, or `None` for one to read alone (too large for a group).
    pub async fn get_many(&self, gets: Vec<RawGet>) -> Vec<Result<Option<Vec<u8>>, Error>> {
        self.reads.submit(gets).await
    }
}

/// Stores a group of uploads, each checked against its tenant's record as the vault shows it.
fn store_group(vault: &Vault, puts: &[RawPut]) -> Vec<Result<ItemInfo, Error>> {
    // The server checks each envelope against its tenant's record as the vault shows it
    // (pins made here, as for a streamed upload): a courtesy to honest writers. What
    // protects the tenant is the writer's own check of the signed manifest.
    let pins = lockbox::trust::Pins::in_memory();
    let mut tenants: Vec<&str> = puts.iter().map(|p| p.tenant.as_str()).collect();
    tenants.sort_unstable();
    tenants.dedup();
    for tenant in tenants {
        if let Ok(record) = vault.tenant(tenant) {
            let fp = lockbox::crypto::tenant_fingerprint(&record.signer);
            let _ = pins.pin(vault.place(), &vault.id(), tenant, fp);
        }
    }
    vault.with_pins(Arc::new(pins)).put_raw_group(puts)
}
