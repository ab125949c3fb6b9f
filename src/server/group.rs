//! Group commit of small uploads: one thread stores every small envelope waiting at once in
//! one durable transaction (`Vault::put_raw_group`), then answers each. While it commits,
//! the next ones queue, so the busier the server, the larger the groups.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

// Envelope bytes stored in one transaction at most (as a large put's staged groups: a larger
// transaction makes redb write its pages twice).
use lockbox::vault::MAX_GROUP_BYTES;
use lockbox::vault::{Error, ItemInfo, RawPut, Vault};
use tokio::sync::oneshot;

/// Uploads stored in one transaction at most.
const MAX_GROUP: usize = 1024;
/// Small uploads read whole and waiting at once, at most: beyond it an upload streams (so
/// memory held by waiting uploads stays under this times 256 KiB).
pub const WAITING: usize = 64;

type Job = (RawPut, oneshot::Sender<Result<ItemInfo, Error>>);

/// The queue to the group writer.
pub struct Group {
    jobs: Sender<Job>,
    /// Places for uploads read whole and waiting for their group.
    pub places: Arc<tokio::sync::Semaphore>,
}

impl Group {
    /// Starts the writer on `vault`.
    pub fn start(vault: Vault) -> Result<Group, Error> {
        let (jobs, queue) = channel();
        std::thread::Builder::new()
            .name("lockbox-group".into())
            .spawn(move || write_groups(vault, queue))
            .map_err(|e| Error::other(format!("cannot start the group writer: {e}")))?;
        Ok(Group { jobs, places: Arc::new(tokio::sync::Semaphore::new(WAITING)) })
    }

    /// Stores `put` with whatever else is waiting; its outcome once its group is durable.
    pub async fn put(&self, put: RawPut) -> Result<ItemInfo, Error> {
        let (reply, answer) = oneshot::channel();
        let stopped = || Error::other("the group writer stopped");
        self.jobs.send((put, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl Group {
    /// Stores every one of `puts` with whatever else is waiting; their outcomes, in order,
    /// once their groups are durable.
    pub async fn put_many(&self, puts: Vec<RawPut>) -> Vec<Result<ItemInfo, Error>> {
        let stopped = || Error::other("the group writer stopped");
        let mut answers = Vec::with_capacity(puts.len());
        for put in puts {
            let (reply, answer) = oneshot::channel();
            answers.push(self.jobs.send((put, reply)).map(|()| answer));
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

fn write_groups(vault: Vault, queue: Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut bytes = first.0.envelope.len();
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP && bytes < MAX_GROUP_BYTES {
            match queue.try_recv() {
                // A client that went away is not waiting for its answer: its upload is dropped
                // unstored (it was never acknowledged).
                Ok(job) if job.1.is_closed() => {}
                Ok(job) => {
                    bytes += job.0.envelope.len();
                    jobs.push(job);
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        // The server checks each envelope against its tenant's record as the vault shows it
        // (pins made here, as for a streamed upload): a courtesy to honest writers. What
        // protects the tenant is the writer's own check of the signed manifest.
        let pins = lockbox::trust::Pins::in_memory();
        let mut tenants: Vec<&str> = jobs.iter().map(|(p, _)| p.tenant.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        for tenant in tenants {
            if let Ok(record) = vault.tenant(tenant) {
                let fp = lockbox::crypto::tenant_fingerprint(&record.signer);
                let _ = pins.pin(vault.place(), &vault.id(), tenant, fp);
            }
        }
        let (puts, replies): (Vec<RawPut>, Vec<_>) = jobs.into_iter().unzip();
        let grouped = vault.with_pins(Arc::new(pins));
        // A panic here must not stop every later small upload: the group is answered with an
        // error and the writer goes on.
        let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| grouped.put_raw_group(&puts)))
            .unwrap_or_else(|_| {
                tracing::error!(group = puts.len(), "the group writer panicked; the group was not stored");
                puts.iter().map(|_| Err(Error::other("the server failed to store this upload"))).collect()
            });
        tracing::debug!(group = puts.len(), "group committed");
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
    }
}
