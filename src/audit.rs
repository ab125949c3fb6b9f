//! The hash-chained audit log. Every state change and every read appends one entry in the same
//! transaction as the change itself, so the log and the vault cannot disagree after a crash.
//!
//! hash(n) = SHA-256("lockbox/v2 audit\0" || seq || time || actor || tenant || subject ||
//! event || hash(n-1) || chain || chain_prev), strings and the event's canonical encoding
//! (format::AuditEvent) length-prefixed (u32 BE), integers u64 BE, and hash(0) = 32 zero
//! bytes. Changing, removing or reordering any entry breaks every later hash. Each tenant's
//! entries also form their own chain: `chain` is the entry's position in it and `chain_prev`
//! the hash of the tenant's previous entry, so a
//! customer checks and signs (checkpoints) its own tenant's history alone; cutting the log
//! back before a checkpoint is caught by the checkpoint.

use sha2::{Digest, Sha256};

use crate::store::{Reads, StoreError, Writes};

/// One audit entry.
pub use crate::store::records::AuditEntry as Entry;

pub use crate::format::AuditEvent as Event;

/// Who acted, about what: the fields of an entry beside its event.
#[derive(Debug, Clone, Copy)]
pub struct About<'a> {
    /// Who acted.
    pub actor: &'a str,
    /// The tenant concerned, or empty.
    pub tenant: &'a str,
    /// The item, request, grant or level concerned, or empty.
    pub subject: &'a str,
}

impl Entry {
    /// Recomputes this entry's hash from its fields and `prev`.
    pub fn compute_hash(&self) -> Result<[u8; 32], StoreError> {
        let event = self
            .event
            .encode()
            .map_err(|e| StoreError::Encode { what: "audit event", detail: e.to_string() })?;
        let mut h = Sha256::new();
        h.update(b"lockbox/v2 audit\0");
        h.update(self.seq.to_be_bytes());
        h.update(self.time.to_be_bytes());
        for field in [self.actor.as_bytes(), self.tenant.as_bytes(), self.subject.as_bytes(), &event] {
            // Every field is far below 4 GiB: names, and an event of at most MAX_EVENT_LEN.
            h.update((field.len() as u32).to_be_bytes());
            h.update(field);
        }
        h.update(self.prev);
        h.update(self.chain.to_be_bytes());
        h.update(self.chain_prev);
        Ok(h.finalize().into())
    }

    /// The action's name (`put`, `request.approve`, ...).
    pub fn action(&self) -> &'static str {
        self.event.action()
    }

    /// The signed manifest a `manifest` entry logged.
    pub(crate) fn manifest_note(&self) -> Option<&str> {
        match &self.event {
            Event::Manifest { note } => Some(note),
            _ => None,
        }
    }

    /// Whether the stored hash is the one its fields give.
    fn hash_matches(&self) -> bool {
        self.compute_hash().is_ok_and(|h| h == self.hash)
    }
}

/// Appends an entry to the log within `tx`.
pub fn append(tx: &dyn Writes, time: u64, about: About<'_>, event: Event) -> Result<Entry, StoreError> {
    let (seq, prev) = match tx.last_audit()? {
        Some(last) => (last.seq.saturating_add(1), last.hash),
        None => (1, [0; 32]),
    };
    let (chain, chain_prev) = match about.tenant {
        "" => (0, [0; 32]),
        tenant => tx.tenant_audit_head(tenant)?.map_or((1, [0; 32]), |(n, h)| (n.saturating_add(1), h)),
    };
    let mut entry = Entry {
        chain,
        chain_prev,
        seq,
        time,
        actor: about.actor.to_owned(),
        tenant: about.tenant.to_owned(),
        subject: about.subject.to_owned(),
        event,
        prev,
        hash: [0; 32],
    };
    entry.hash = entry.compute_hash()?;
    tx.append_audit(&entry)?;
    Ok(entry)
}

/// Every entry, in order, optionally only those of one tenant.
pub fn entries(r: &dyn Reads, tenant: Option<&str>) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::new();
    r.for_each_audit(&mut |_, e| {
        let e = e?;
        if tenant.is_none_or(|t| t == e.tenant) {
            out.push(e);
        }
        Ok(true)
    })?;
    Ok(out)
}

/// `tenant`'s entries from position `from` of its chain on, through the store's index; `None`
/// if the index names an entry that is not the tenant's next one (another tenant's, another
/// position, one twice): the caller then reads the whole log. Reading stops at the first such
/// entry, so an index that names one large entry many times costs no more than the real chain.
pub(crate) fn tenant_entries_from(
    r: &dyn Reads,
    tenant: &str,
    from: u64,
) -> Result<Option<Vec<Entry>>, StoreError> {
    let mut out: Vec<Entry> = Vec::new();
    let mut sound = true;
    r.for_each_tenant_audit(tenant, from, &mut |position, e| {
        let e = e?;
        let next = from + out.len() as u64;
        if position != next || e.chain != next || e.tenant != tenant {
            sound = false;
            return Ok(false);
        }
        out.push(e);
        Ok(true)
    })?;
    Ok(sound.then_some(out))
}

/// The result of checking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every entry links to the previous one; `head` is the last hash (zeros when empty).
    Intact {
        /// Number of entries.
        count: u64,
        /// Hash of the last entry.
        head: [u8; 32],
    },
    /// The first entry that does not check out, and why.
    Broken {
        /// Sequence number (or storage position) of the first bad entry.
        seq: u64,
        /// What is wrong.
        why: String,
    },
}

/// Recomputes the chain from the first entry.
pub fn verify(r: &dyn Reads) -> Result<Verdict, StoreError> {
    let mut expected_seq = 1u64;
    let mut prev = [0u8; 32];
    let mut broken = None;
    r.for_each_audit(&mut |position, e| {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                broken = Some((expected_seq, format!("entry does not decode: {err}")));
                return Ok(false);
            }
        };
        let why = if position != e.seq {
            Some(format!("stored under position {position} but claims seq {}", e.seq))
        } else if e.seq != expected_seq {
            Some(format!("expected seq {expected_seq}, found {} (entries removed or reordered)", e.seq))
        } else if e.prev != prev {
            Some("does not link to the previous entry".to_owned())
        } else if !e.hash_matches() {
            Some("contents do not match its hash (entry was changed)".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            broken = Some((expected_seq, why));
            return Ok(false);
        }
        prev = e.hash;
        expected_seq += 1;
        Ok(true)
    })?;
    Ok(match broken {
        Some((seq, why)) => Verdict::Broken { seq, why },
        None => Verdict::Intact { count: expected_seq - 1, head: prev },
    })
}

/// Checks a tail of `tenant`'s own chain: `entries` must be `tenant`'s entries at positions
/// `from`, `from + 1`, ... each linked to the one before and matching its hash. The first one's
/// link is not checked unless `from` is 1 (its predecessor is not given): the caller pins it, by its hash, to
/// what it checked before. `Intact.count` is the last position (`from - 1` when empty).
pub(crate) fn verify_tenant_from(entries: &[&Entry], tenant: &str, from: u64) -> Verdict {
    let mut expected = from.max(1);
    let mut prev = (expected == 1).then_some([0u8; 32]);
    for e in entries {
        let why = if e.tenant != tenant {
            Some(format!("position {expected} holds an entry of another tenant"))
        } else if e.chain != expected {
            Some(format!("expected position {expected}, found {} (entries removed or reordered)", e.chain))
        } else if prev.is_some_and(|p| p != e.chain_prev) {
            Some("does not link to the tenant's previous entry".to_owned())
        } else if !e.hash_matches() {
            Some("contents do not match its hash (entry was changed)".to_owned())
        } else {
            None
        };
        if let Some(why) = why {
            return Verdict::Broken { seq: expected, why };
        }
        prev = Some(e.hash);
        expected += 1;
    }
    Verdict::Intact { count: expected - 1, head: prev.unwrap_or([0; 32]) }
}
