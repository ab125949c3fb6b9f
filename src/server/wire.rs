//! What crosses the wire besides envelopes and item metadata (`vault::ItemInfo`): errors, as
//! JSON. Shared by the server and the client (`--server`).

use serde::{Deserialize, Serialize};

/// An error: the vault's kind (by name) and message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub error: FailureBody,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureBody {
    pub kind: String,
    pub message: String,
}
