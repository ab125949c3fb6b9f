//! The lockbox workflow: engineers request access, customers release chosen levels, grants
//! expire or are revoked, and all of it is audited.
//!
//! Approval wraps the private keys of the released levels (every epoch up to now) to the
//! engineer's public key, with the grant's full context bound, then rotates each released level
//! to a fresh epoch so items written afterwards are out of the grant's reach. Levels not
//! released are never wrapped to the engineer: they stay sealed whatever the engineer reads.

mod approval;
mod engineers;
mod grants;
mod removal;
mod requests;

pub use approval::{Ask, Limits, Terms, decide};
pub use grants::{EngineerKeys, GrantStatus};
pub use removal::Removal;
pub use requests::{Approval, NewRequest, RequestStatus, request_digest};

use crate::vault::Error;

/// Longest justification accepted, in bytes.
pub const MAX_REASON_LEN: usize = 4096;
/// Longest support case id accepted, in bytes.
pub const MAX_CASE_ID_LEN: usize = 128;

/// SHA-256 over a grant's key blobs, each as u32 BE length and bytes, in record order: what
/// the signed grant names, so no blob can be added, dropped or swapped.
pub fn blobs_hash(blobs: &[Vec<u8>]) -> [u8; 32] {
    let mut all = Vec::new();
    for b in blobs {
        all.extend_from_slice(&(b.len() as u32).to_be_bytes());
        all.extend_from_slice(b);
    }
    crate::crypto::sha256(&all)
}

/// Lower-case hex of an id.
pub fn id_hex(id: &[u8; 16]) -> String {
    crate::format::hex(id)
}

/// Finds the one id among `ids` that `text` names: the full 32 hex digits, or a unique prefix
/// of at least 6.
fn resolve_id<'a>(
    kind: &str,
    text: &str,
    ids: impl Iterator<Item = &'a [u8; 16]>,
) -> Result<[u8; 16], Error> {
    let text = text.to_ascii_lowercase();
    if text.len() < 6 || text.len() > 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::usage(format!("{kind} id {text:?} is not 6 to 32 hex digits")));
    }
    let mut found = None;
    for id in ids {
        if id_hex(id).starts_with(&text) {
            if found.is_some() {
                return Err(Error::usage(format!(
                    "{kind} id prefix {text:?} is ambiguous; give more digits"
                )));
            }
            found = Some(*id);
        }
    }
    found.ok_or_else(|| Error::not_found(format!("no {kind} {text}")))
}

/// Checks free text from the user: length and no control characters (newline and tab allowed
/// in reasons).
fn check_text(what: &str, text: &str, max: usize, allow_newlines: bool) -> Result<(), Error> {
    if text.trim().is_empty() {
        return Err(Error::usage(format!("{what} must not be empty")));
    }
    if text.len() > max {
        return Err(Error::usage(format!("{what} is longer than {max} bytes")));
    }
    let bad = |c: char| c.is_control() && !(allow_newlines && (c == '\n' || c == '\t'));
    if text.chars().any(bad) {
        return Err(Error::usage(format!("{what} contains control characters")));
    }
    Ok(())
}

impl crate::vault::Vault {
    /// Audit entries, optionally of one tenant.
    pub fn audit_entries(&self, tenant: Option<&str>) -> Result<Vec<crate::audit::Entry>, Error> {
        Ok(crate::audit::entries(&*self.store().begin_read()?, tenant)?)
    }

    /// `tenant`'s audit entries from position `from` of its own chain on, as the store's index
    /// gives them (`None` if it names anything out of order; the caller checks the rest:
    /// [`crate::audit::verify_tenant_from`]).
    pub fn tenant_audit_from(
        &self,
        tenant: &str,
        from: u64,
    ) -> Result<Option<Vec<crate::audit::Entry>>, Error> {
        Ok(crate::audit::tenant_entries_from(&*self.store().begin_read()?, tenant, from)?)
    }

    /// Recomputes the audit chain. With `expect_head`, that hash must be the head or an
    /// earlier entry's hash: a log cut back to before it, or rewritten, is reported broken.
    pub fn verify_audit(&self, expect_head: Option<&[u8; 32]>) -> Result<crate::audit::Verdict, Error> {
        let snapshot = self.store().begin_read()?;
        let verdict = crate::audit::verify(&*snapshot)?;
        let (Some(expected), crate::audit::Verdict::Intact { count, .. }) = (expect_head, &verdict) else {
            return Ok(verdict);
        };
        let known = crate::audit::entries(&*snapshot, None)?.iter().any(|e| &e.hash == expected);
        if known || (*expected == [0; 32]) {
            Ok(verdict)
        } else {
            Ok(crate::audit::Verdict::Broken {
                seq: count + 1,
                why: "the expected head is not in the log: it was cut back or rewritten".into(),
            })
        }
    }
}
