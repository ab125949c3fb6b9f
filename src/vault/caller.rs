//! Who acts, and when: given to the vault by the application (the CLI per invocation, a server
//! per request), never read from the environment inside the library.

use std::time::{SystemTime, UNIX_EPOCH};

/// The party on whose behalf the vault acts, and the clock that dates what it records and
/// decides (request and grant expiry, audit times).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    actor: String,
    clock: Clock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clock {
    /// The system clock, read at each use.
    System,
    /// One fixed time (tests, replays).
    Fixed(u64),
}

impl Caller {
    /// `actor`, on the system clock.
    pub fn new(actor: &str) -> Caller {
        Caller { actor: actor.to_owned(), clock: Clock::System }
    }

    /// `actor`, at a fixed `time` (seconds since the Unix epoch).
    pub fn at(actor: &str, time: u64) -> Caller {
        Caller { actor: actor.to_owned(), clock: Clock::Fixed(time) }
    }

    /// Another actor on the same clock.
    pub(crate) fn with_actor(&self, actor: &str) -> Caller {
        Caller { actor: actor.to_owned(), clock: self.clock }
    }

    /// Who acts, as the audit log names them.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Seconds since the Unix epoch, by this caller's clock.
    pub fn now(&self) -> u64 {
        match self.clock {
            Clock::System => SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            Clock::Fixed(t) => t,
        }
    }
}

impl Default for Caller {
    /// An unnamed caller on the system clock: the application names who acts.
    fn default() -> Caller {
        Caller::new("unknown")
    }
}
