//! What crosses the wire besides envelopes and item metadata (`vault::ItemInfo`): errors, as
//! JSON. Shared by the server and the client (`--server`).

use serde::{Deserialize, Serialize};

/// An error: the vault's kind (by name) and message.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Failure {
    pub error: FailureBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailureBody {
    pub kind: String,
    pub message: String,
}

/// `GET /v1/whoami`: who a token lets in.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WhoAmI {
    /// The vault's id (hex).
    pub vault: String,
    /// The tenant the token is for.
    pub tenant: String,
    /// Its role.
    pub role: String,
    /// The engineer it stands for.
    pub engineer: Option<String>,
    /// The name the audit log gives the token's actions.
    pub actor: String,
}

/// The commit operations, as the path names them.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum OpName {
    Enroll,
    Request,
    Deny,
    Approve,
    Revoke,
    Manifest,
    Checkpoint,
    MonitorCheckpoint,
    AddLevel,
    Rotate,
}
