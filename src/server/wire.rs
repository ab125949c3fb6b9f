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
    CreateTenant,
}

/// `POST /v1/tenants/{tenant}/batches/put`: envelopes stored together, each checked as a
/// single put checks it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutBatch {
    /// Replace items that exist.
    #[serde(default)]
    pub replace: bool,
    /// At most 256 envelopes, each at most 256 KiB, together at most 8 MiB.
    pub items: Vec<BatchEnvelope>,
}

/// One item's envelope in a batch.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchEnvelope {
    /// Item id.
    pub item: String,
    /// The envelope (docs/FORMAT.md), standard base64 with padding.
    pub envelope: String,
}

/// What became of one envelope of a batch: stored, or refused and why. In the request's order.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PutOutcome {
    pub item: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stored: Option<lockbox::vault::ItemInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureBody>,
}

/// `POST /v1/tenants/{tenant}/batches/get`: the envelopes of items read together.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBatch {
    /// At most 256 item ids; an envelope larger than 256 KiB is refused (read it alone).
    pub items: Vec<String>,
}

/// One item's envelope, or why it is not given. In the request's order.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GetOutcome {
    pub item: String,
    /// The envelope, standard base64 with padding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureBody>,
}

impl FailureBody {
    /// The body of a failure with `kind` and `message`.
    pub fn of(e: &lockbox::vault::Error) -> FailureBody {
        FailureBody { kind: e.kind.name().to_owned(), message: e.message.clone() }
    }
}
