//! One two-stage pipeline for every command that can keep both cores busy (put's staging,
//! get's reading, import's sealing, export's writing): a producer hands values to a consumer
//! through a bounded queue, and the consumer can hand spent values back for reuse, so buffers
//! circulate instead of being allocated per chunk. With [`Threads::One`] both stages run on
//! the calling thread, value by value: the same code, for tests and one-core machines.
//!
//! Which stage gets the second thread is the caller's choice, by the function it calls: the
//! stage that must stay on the calling thread is the one holding what cannot move between
//! threads (standard input for put, standard output for get).
//!
//! Errors: the consumer's error is the one returned if it failed (the producer then only sees
//! its queue closed); otherwise the producer's. Values already handed over when the producer
//! fails are still consumed first.

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use super::Error;

/// How many threads a pipeline runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Both stages on the calling thread.
    One,
    /// The producer or the consumer on a second thread.
    Two,
}

/// What a producer hands each value to; returns a spent value to reuse, if one came back.
pub(crate) type Handoff<'a, T> = dyn FnMut(T) -> Result<Option<T>, Error> + 'a;

/// What a consumer hands spent values back to (any number, any time).
pub(crate) type GiveBack<'a, T> = dyn FnMut(T) + 'a;

/// Runs `consume` on a second thread (with [`Threads::Two`]), fed by `produce` on this one.
pub(crate) fn to_worker<T: Send>(
    threads: Threads,
    depth: usize,
    produce: impl FnOnce(&mut Handoff<'_, T>) -> Result<(), Error>,
    mut consume: impl FnMut(T, &mut GiveBack<'_, T>) -> Result<(), Error> + Send,
) -> Result<(), Error> {
    if threads == Threads::One {
        return inline(produce, consume);
    }
    std::thread::scope(|scope| {
        let (send, receive) = sync_channel::<T>(depth);
        let (give_back, take_back) = channel::<T>();
        let worker = scope.spawn(move || drain(receive, give_back, &mut consume));
        let produced = produce(&mut |value| hand_over(&send, &take_back, value));
        drop(send);
        let consumed =
            worker.join().unwrap_or_else(|_| Err(Error::other("internal error: a worker thread stopped")));
        consumed.and(produced)
    })
}

/// Runs `produce` on a second thread (with [`Threads::Two`]), feeding `consume` on this one.
pub(crate) fn from_worker<T: Send>(
    threads: Threads,
    depth: usize,
    produce: impl FnOnce(&mut Handoff<'_, T>) -> Result<(), Error> + Send,
    mut consume: impl FnMut(T, &mut GiveBack<'_, T>) -> Result<(), Error>,
) -> Result<(), Error> {
    if threads == Threads::One {
        return inline(produce, consume);
    }
    std::thread::scope(|scope| {
        let (send, receive) = sync_channel::<T>(depth);
        let (give_back, take_back) = channel::<T>();
        let worker = scope.spawn(move || produce(&mut |value| hand_over(&send, &take_back, value)));
        let consumed = drain(receive, give_back, &mut consume);
        let produced =
            worker.join().unwrap_or_else(|_| Err(Error::other("internal error: a worker thread stopped")));
        consumed.and(produced)
    })
}

/// Both stages on this thread: each value is consumed as it is handed over.
fn inline<T>(
    produce: impl FnOnce(&mut Handoff<'_, T>) -> Result<(), Error>,
    mut consume: impl FnMut(T, &mut GiveBack<'_, T>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut spent = Vec::new();
    produce(&mut |value| {
        consume(value, &mut |back| spent.push(back))?;
        Ok(spent.pop())
    })
}

fn hand_over<T>(send: &SyncSender<T>, take_back: &Receiver<T>, value: T) -> Result<Option<T>, Error> {
    send.send(value).map_err(|_| Error::other("the other stage of the pipeline stopped"))?;
    Ok(take_back.try_recv().ok())
}

/// Consumes every value until the producer is done; stops at the first error (dropping the
/// queue, which stops the producer).
fn drain<T>(
    receive: Receiver<T>,
    give_back: Sender<T>,
    consume: &mut impl FnMut(T, &mut GiveBack<'_, T>) -> Result<(), Error>,
) -> Result<(), Error> {
    for value in receive {
        consume(value, &mut |spent| drop(give_back.send(spent)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(threads: Threads, to: bool, fail_at: Option<u32>) -> (Result<(), Error>, Vec<u32>, usize) {
        let mut seen = Vec::new();
        let mut reused = 0;
        let produce = |handoff: &mut Handoff<'_, Vec<u32>>| {
            let mut spare = Vec::new();
            for i in 0..100 {
                spare.clear();
                spare.push(i);
                if let Some(back) = handoff(std::mem::take(&mut spare))? {
                    spare = back;
                    reused += 1;
                }
            }
            Ok(())
        };
        let consume = |v: Vec<u32>, give_back: &mut GiveBack<'_, Vec<u32>>| {
            if Some(v[0]) == fail_at {
                return Err(Error::conflict("consumer failed"));
            }
            seen.push(v[0]);
            give_back(v);
            Ok(())
        };
        let result = if to {
            to_worker(threads, 4, produce, consume)
        } else {
            from_worker(threads, 4, produce, consume)
        };
        (result, seen, reused)
    }

    #[test]
    fn every_value_arrives_in_order_on_one_or_two_threads_and_buffers_come_back() {
        for threads in [Threads::One, Threads::Two] {
            for to in [true, false] {
                let (result, seen, reused) = run(threads, to, None);
                result.unwrap();
                assert_eq!(seen, (0..100).collect::<Vec<_>>());
                if threads == Threads::One {
                    assert_eq!(reused, 100, "a single thread gets every value back at once");
                }
            }
        }
    }

    #[test]
    fn the_consumers_error_is_the_one_reported_and_stops_the_producer() {
        for threads in [Threads::One, Threads::Two] {
            for to in [true, false] {
                let (result, seen, _) = run(threads, to, Some(10));
                assert_eq!(result.unwrap_err().message, "consumer failed");
                assert_eq!(seen, (0..10).collect::<Vec<_>>());
            }
        }
    }
}
