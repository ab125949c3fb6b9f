//! Records the vault keeps, encoded by [`super::codec`]. None holds a secret.

use serde::{Deserialize, Serialize};

use crate::format::AuditEvent;

/// A tenant: its levels with the public keys of every epoch, and its current signed manifest,
/// which alone states the access policy and which epoch of each level is current (the record
/// keeps only what the manifest does not say: earlier epochs, times, the signing key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Tenant name.
    pub name: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Classification levels, in creation order.
    pub levels: Vec<LevelRecord>,
    /// The tenant's Ed25519 signing public key (the customer's; writers pin its fingerprint).
    pub signer: [u8; 32],
    /// The current signed manifest (docs/FORMAT.md): what the customer states about the levels
    /// and the tenant's policy. Readers trust the manifest, never the fields beside it.
    pub manifest: String,
    /// The last audit checkpoint the customer signed (a signed note), or empty.
    pub checkpoint: String,
}

/// A classification level and the public keys of its epochs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelRecord {
    /// Level name.
    pub name: String,
    /// Creation time.
    pub created: u64,
    /// Epochs, oldest first; the last is current.
    pub epochs: Vec<EpochRecord>,
}

/// One epoch of a level: its public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch number, from 1.
    pub epoch: u32,
    /// X25519 public key.
    pub public: [u8; 32],
    /// When the epoch began.
    pub created: u64,
}

/// One stored item: its envelope header and where its chunks are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// The canonical envelope header.
    // serde_bytes: the same bytes on the wire as a sequence of u8, encoded in one copy
    // instead of one call per byte.
    #[serde(with = "serde_bytes")]
    pub header: Vec<u8>,
    /// Plaintext size in bytes.
    pub size: u64,
    /// When this version was written.
    pub created: u64,
    /// Random id under which the chunks are stored; new on every write.
    pub blob: [u8; 16],
    /// Number of chunks (at least 1).
    pub chunks: u64,
    /// The only chunk of a one-chunk item, kept in the record itself (one write and one read
    /// instead of two); `None` when the chunks are in the chunks table.
    #[serde(with = "serde_bytes")]
    pub inline: Option<Vec<u8>>,
}

/// An enrolled engineer and their public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineerRecord {
    /// Engineer name.
    pub name: String,
    /// X25519 public key; its private half is in the engineer's identity file.
    pub public: [u8; 32],
    /// Enrollment time.
    pub created: u64,
}

/// What the customer decided about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Not decided yet (it may have expired: see [`RequestRecord::expires`]).
    Pending,
    /// Approved: a grant exists.
    Approved,
    /// Denied.
    Denied,
}

/// An engineer's request for access to some levels of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// Random id.
    pub id: [u8; 16],
    /// Tenant.
    pub tenant: String,
    /// Requesting engineer.
    pub engineer: String,
    /// Levels asked for.
    pub levels: Vec<String>,
    /// Justification.
    pub reason: String,
    /// Support case id.
    pub case_id: String,
    /// Access duration asked for, seconds.
    pub duration_secs: u64,
    /// When filed.
    pub created: u64,
    /// When it expires if still undecided.
    pub expires: u64,
    /// The decision.
    pub decision: Decision,
    /// When decided.
    pub decided: Option<u64>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// The denial reason, if any.
    pub decision_reason: Option<String>,
    /// The grant, if approved.
    pub grant: Option<[u8; 16]>,
}

/// A grant: level keys released to one engineer until an expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    /// Random id; bound into every wrapped key.
    pub id: [u8; 16],
    /// The request it answers.
    pub request: [u8; 16],
    /// Tenant.
    pub tenant: String,
    /// Engineer.
    pub engineer: String,
    /// Released levels and the newest epoch released for each (all epochs up to it).
    pub levels: Vec<(String, u32)>,
    /// Approval time.
    pub created: u64,
    /// Expiry; bound into every wrapped key.
    pub expires: u64,
    /// Who approved.
    pub approved_by: String,
    /// When revoked, and by whom.
    pub revoked: Option<(u64, String)>,
    /// The wrapped level keys: encoded grant key blobs (docs/FORMAT.md).
    pub keys: Vec<Vec<u8>>,
    /// The customer's signed statement of this grant (a signed note of kind `grant`): what the
    /// engineer's client checks before it uses the keys.
    pub note: String,
}

/// One audit entry (the chain and its hash are defined in [`crate::audit`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Seconds since the Unix epoch.
    pub time: u64,
    /// Who acted: the customer's or engineer's name as given to lockbox.
    pub actor: String,
    /// The tenant concerned, or empty.
    pub tenant: String,
    /// The item, request, grant or level concerned, or empty.
    pub subject: String,
    /// What happened, typed; stored in its canonical encoding (docs/FORMAT.md).
    #[serde(with = "event_bytes")]
    pub event: AuditEvent,
    /// Hash of the previous entry.
    pub prev: [u8; 32],
    /// Position in its tenant's own chain, from 1; 0 for an entry of no tenant.
    pub chain: u64,
    /// Hash of the tenant's previous entry (zeros for its first, and for no tenant).
    pub chain_prev: [u8; 32],
    /// Hash of this entry.
    pub hash: [u8; 32],
}

/// An audit event as its canonical bytes inside the record: decoded strictly, so a record
/// holds only events that re-encode to the same bytes.
mod event_bytes {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserializer, Serializer};

    use crate::format::AuditEvent;

    pub fn serialize<S: Serializer>(event: &AuditEvent, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&event.encode().map_err(S::Error::custom)?)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<AuditEvent, D::Error> {
        let bytes: serde_bytes::ByteBuf = serde::Deserialize::deserialize(d)?;
        AuditEvent::decode(&bytes).map_err(D::Error::custom)
    }
}

/// An API token of the server: who it lets in. The token itself is never stored, only its
/// SHA-256 (docs/FORMAT.md, "API tokens").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The public part of the token, which names it (`token list`, `token revoke`).
    pub id: [u8; 8],
    /// SHA-256 of the whole token string.
    pub hash: [u8; 32],
    /// What it may do: 1 writer, 2 customer, 3 engineer, 4 monitor, 5 auditor.
    pub role: u8,
    /// The one tenant it may act on.
    pub tenant: String,
    /// That tenant's signing key when the token was made: a tenant deleted and made again
    /// under the same name (another key) is not the token's.
    pub signer: [u8; 32],
    /// The engineer it stands for (engineer tokens only), else empty.
    pub engineer: String,
    /// When it was made.
    pub created: u64,
    /// When it stops working.
    pub expires: u64,
    /// When it was revoked (0: not revoked).
    pub revoked: u64,
}

/// A webhook endpoint of a tenant: where the server sends notices of its requests and grants
/// (docs/FORMAT.md, "Webhooks"). The secret signs each notice (Standard Webhooks, HMAC-SHA-256);
/// it is the operator's key for the operator's own claims.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// Its id.
    pub id: [u8; 8],
    /// The tenant whose events it receives.
    pub tenant: String,
    /// Where notices are POSTed.
    pub url: String,
    /// The signing secret (32 bytes).
    pub secret: Vec<u8>,
    /// The secret it replaced, also signing until `previous_until` (0: none).
    pub previous: Vec<u8>,
    /// When the previous secret stops signing.
    pub previous_until: u64,
    /// When it was added.
    pub created: u64,
}

/// One notice for one webhook, and how its delivery went (`webhook deliveries`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// The notice's id (the `webhook-id` header, the same on every retry: receivers
    /// de-duplicate by it).
    pub id: [u8; 16],
    /// The webhook it goes to.
    pub webhook: [u8; 8],
    /// The event type, e.g. `request.created`.
    pub kind: String,
    /// The notice's body (JSON: ids and kinds only).
    pub body: String,
    /// When it was queued.
    pub created: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (0: none: delivered or given up).
    pub next_attempt: u64,
    /// When it was delivered (0: not yet).
    pub delivered: u64,
    /// The last attempt's outcome: an HTTP status, or why there was none.
    pub last_outcome: String,
}

impl Drop for WebhookRecord {
    /// The secrets do not outlive the record in memory.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.secret);
        zeroize::Zeroize::zeroize(&mut self.previous);
    }
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets.
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}
