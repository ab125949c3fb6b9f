//! A vault handle on another machine than the vault: a read-only copy of what a server showed
//! of one tenant (its rows, decoded and checked here as a vault file's are), whose changes go
//! to the server as commits. Every check and every signature happens here, on the copy,
//! exactly as on a local vault; the server runs the same commit step against the vault, where
//! it checks again what it can.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Error, Vault};
use crate::store::MemoryStore;

/// The changes a copy sends to its server: each is one commit step of the library, run there
/// on the vault as the principal the server authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// An engineer registers the public key of an identity saved on their machine.
    Enroll,
    /// An engineer files a request.
    Request,
    /// The customer denies a request.
    Deny,
    /// The customer's approval: a grant with its key blobs, the released levels' next epochs
    /// and the next manifest.
    Approve,
    /// The customer revokes a grant.
    Revoke,
    /// The customer's next manifest (a policy or monitor change, a refresh).
    Manifest,
    /// The customer's signed audit checkpoint.
    Checkpoint,
    /// The audit monitor's signed checkpoint.
    MonitorCheckpoint,
    /// The customer adds a level: its first epoch's public key and the next manifest.
    AddLevel,
    /// The customer rotates a level: its next epoch's public key, the re-wrapped headers (if
    /// any) and the next manifest.
    Rotate,
    /// The customer creates the tenant: its signing key, its levels' first public keys and its
    /// first manifest, all made on the customer's machine.
    CreateTenant,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 11] = [
        Op::Enroll,
        Op::Request,
        Op::Deny,
        Op::Approve,
        Op::Revoke,
        Op::Manifest,
        Op::Checkpoint,
        Op::MonitorCheckpoint,
        Op::AddLevel,
        Op::Rotate,
        Op::CreateTenant,
    ];

    /// Its name in the API's paths.
    pub fn name(self) -> &'static str {
        match self {
            Op::Enroll => "enroll",
            Op::Request => "request",
            Op::Deny => "deny",
            Op::Approve => "approve",
            Op::Revoke => "revoke",
            Op::Manifest => "manifest",
            Op::Checkpoint => "checkpoint",
            Op::MonitorCheckpoint => "monitor-checkpoint",
            Op::AddLevel => "add-level",
            Op::Rotate => "rotate",
            Op::CreateTenant => "create-tenant",
        }
    }

    /// The operation named `name`.
    pub fn named(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

/// The body of a commit that is one signed note (a manifest, a checkpoint).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Note<S> {
    /// The note, as signed.
    pub note: S,
}

/// The body of a level's new epoch with the next manifest ([`Op::AddLevel`], [`Op::Rotate`]).
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct EpochBody {
    /// The new epoch's public key.
    pub new: super::NewEpoch,
    /// With a rotation's rewrap: every older item's header, re-wrapped.
    pub rewrapped: Option<Vec<super::Rewrapped>>,
    /// The next manifest, signed, stating the new epoch.
    pub manifest: String,
}

/// The body of a tenant's creation ([`Op::CreateTenant`]): only public keys and the signed
/// manifest; the private halves stay in the customer's keyring.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct TenantBody {
    /// The tenant signing key (Ed25519 public key).
    pub signer: [u8; 32],
    /// Each level's first epoch.
    pub levels: Vec<super::NewEpoch>,
    /// The first manifest, signed by the tenant signing key.
    pub manifest: String,
}

/// Where a copy's commits go, and where it reads more from.
pub trait Upstream: Send + Sync {
    /// Sends `body` as operation `op` on `tenant`; the server's answer. Afterwards the copy
    /// shows the vault as it is after the commit.
    fn commit(&self, tenant: &str, op: Op, body: serde_json::Value) -> Result<serde_json::Value, Error>;

    /// Makes the copy hold `tenant`'s audit entries from position `audit_from` on (and its
    /// item records, if `items`), reading them again from the server if it does not yet.
    fn widen(&self, tenant: &str, audit_from: u64, items: bool) -> Result<(), Error>;

    /// The tenant this copy shows (the one the server's token is for).
    fn tenant(&self) -> String;
}

impl Vault {
    /// A vault handle on `store`, a copy of what the server at `place` showed, whose changes
    /// go to `upstream`.
    pub fn mirror(store: Arc<MemoryStore>, place: &str, upstream: Arc<dyn Upstream>) -> Result<Vault, Error> {
        let mut vault = Vault::on(store, std::path::Path::new(""))?;
        vault.place = Arc::from(place.as_bytes());
        vault.upstream = Some(upstream);
        Ok(vault)
    }

    /// Whether this handle is a copy of a server's view.
    pub fn is_mirror(&self) -> bool {
        self.upstream.is_some()
    }

    /// The tenant a copy shows; `None` on a vault of its own.
    pub fn mirror_tenant(&self) -> Option<String> {
        self.upstream.as_ref().map(|u| u.tenant())
    }

    /// On a copy: `op` sent to the server with `body`, and its answer decoded. `None` on a
    /// vault of its own (the caller commits itself).
    pub(crate) fn upstream_commit<T: Serialize, R: DeserializeOwned>(
        &self,
        tenant: &str,
        op: Op,
        body: &T,
    ) -> Option<Result<R, Error>> {
        let upstream = self.upstream.as_ref()?;
        Some((|| {
            let body = serde_json::to_value(body)
                .map_err(|e| Error::other(format!("cannot encode the {} commit: {e}", op.name())))?;
            let answer = upstream.commit(tenant, op, body)?;
            serde_json::from_value(answer).map_err(|e| {
                Error::integrity(format!("the server's answer to {} does not decode: {e}", op.name()))
            })
        })())
    }

    /// On a copy, makes sure it holds what a read of `tenant`'s audit chain from `from` (and
    /// of its items, if `items`) needs.
    pub(crate) fn widen(&self, tenant: &str, from: u64, items: bool) -> Result<(), Error> {
        match &self.upstream {
            Some(upstream) => upstream.widen(tenant, from, items),
            None => Ok(()),
        }
    }
}
