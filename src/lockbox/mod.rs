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
mod webhooks;

pub use approval::{Ask, Limits, Terms, decide};
pub use engineers::EnrollBody;
pub use grants::{EngineerKeys, GrantStatus};
pub use removal::Removal;
pub use requests::{Approval, IdBody, NewRequest, RequestBody, RequestStatus, request_digest};
pub use webhooks::{
    DeliveryInfo, Due, MAX_ATTEMPTS, ROTATION_OVERLAP_SECS, WebhookInfo, WebhookSecret, check_url, signature,
};

use crate::vault::{Error, Vault};

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

/// The lockbox workflow over one vault: engineers enrolled and removed, access requests filed,
/// approved (the customer's prepared approval committed) and denied, grants listed, revoked and
/// used. Its operations are its own type's, not the vault's: the vault layer knows nothing of
/// requests or grants, and this layer reaches the vault only through what it offers.
#[derive(Clone, Copy)]
pub struct Workflow<'v> {
    vault: &'v Vault,
}

impl<'v> Workflow<'v> {
    /// The workflow of `vault`.
    pub fn new(vault: &'v Vault) -> Workflow<'v> {
        Workflow { vault }
    }

    /// The vault it works on.
    pub fn vault(&self) -> &'v Vault {
        self.vault
    }
}
