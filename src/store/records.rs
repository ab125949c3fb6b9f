//! Records the vault keeps, encoded by [`super::codec`]. None holds a secret.

use serde::{Deserialize, Serialize};

/// A tenant, its levels with their public keys, and its access policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Tenant name.
    pub name: String,
    /// Creation time, seconds since the Unix epoch.
    pub created: u64,
    /// Classification levels, in creation order.
    pub levels: Vec<LevelRecord>,
    /// Longest access a grant may give, in seconds.
    pub max_access_secs: u64,
    /// How long a request waits for a decision before it expires, in seconds.
    pub request_ttl_secs: u64,
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
    pub header: Vec<u8>,
    /// Plaintext size in bytes.
    pub size: u64,
    /// When this version was written.
    pub created: u64,
    /// Random id under which the chunks are stored; new on every write.
    pub blob: [u8; 16],
    /// Number of chunks (at least 1).
    pub chunks: u64,
}
