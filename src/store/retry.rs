//! Running a transaction again when the database ends it for a conflict.
//!
//! A distributed SQL engine (or PostgreSQL under SERIALIZABLE) may end a transaction to keep
//! concurrent ones serializable, or to break a deadlock ([`StoreError::Retry`]); nothing of it
//! was committed, and the same work in a new transaction sees the other's commit and may pass.

use std::time::Duration;

use super::StoreError;

/// Attempts before a conflict is reported.
pub const ATTEMPTS: u32 = 8;

/// Runs `attempt` until it succeeds, fails for another reason than a conflict (as `conflict`
/// tells), or has run [`ATTEMPTS`] times. Waits between attempts, jittered and doubling from
/// 2 ms to about a quarter of a second, so transactions that collided do not collide in step.
pub fn with_retries<T, E>(
    mut attempt: impl FnMut() -> Result<T, E>,
    conflict: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let mut done = 1;
    loop {
        match attempt() {
            Err(e) if done < ATTEMPTS && conflict(&e) => {
                let ceiling = 1u64 << (done + 1).min(8);
                let jitter = crate::crypto::random_array::<8>().map(u64::from_le_bytes).unwrap_or(0);
                std::thread::sleep(Duration::from_millis(ceiling / 2 + jitter % ceiling));
                done += 1;
            }
            result => return result,
        }
    }
}

/// Whether `e` is a conflict (for [`with_retries`]).
pub fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Retry(_))
}
