//! The commit steps a client sends (`POST /v1/tenants/{t}/commits/{op}`): decoded, held to the
//! token's tenant and engineer, then run by the same library call a local command makes. The
//! client checked and signed everything on its copy; the library checks again here what the
//! vault can (manifests against the tenant key, the request still pending, epochs unchanged).

use lockbox::lockbox::{Approval, EnrollBody, IdBody, RequestBody, Workflow};
use lockbox::vault::{Error, Op, Principal, Vault};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Runs `op` with `body` on `tenant` as `principal`; the answer to send back.
pub fn run(vault: &Vault, principal: &Principal, tenant: &str, op: Op, body: &[u8]) -> Result<Value, Error> {
    let flow = Workflow::new(vault);
    match op {
        Op::Enroll => {
            let b: EnrollBody = decode(op, body)?;
            same_engineer(principal, &b.engineer)?;
            json(flow.enroll_public(&b.engineer, &b.public)?)
        }
        Op::Request => {
            let b: RequestBody = decode(op, body)?;
            same_engineer(principal, &b.engineer)?;
            let request = b.request(tenant);
            json(match &b.key {
                Some(key) => flow.file_request(&request, key)?,
                None => flow.create_request(&request)?,
            })
        }
        Op::Deny => {
            let b: IdBody = decode(op, body)?;
            full_id(&b.id)?;
            let (request, _) = flow.request(&b.id)?;
            same_tenant(tenant, &request.tenant, "request")?;
            json(flow.deny_request(&b.id, b.reason.as_deref())?)
        }
        Op::Approve => {
            let approval: Approval = decode(op, body)?;
            same_tenant(tenant, &approval.grant.tenant, "approval")?;
            json(flow.commit_approval(&approval)?)
        }
        Op::Revoke => {
            let b: IdBody = decode(op, body)?;
            full_id(&b.id)?;
            let (grant, _) = flow.grant(&b.id)?;
            same_tenant(tenant, &grant.tenant, "grant")?;
            json(flow.revoke_grant(&b.id)?)
        }
        Op::Manifest => {
            let b: lockbox::vault::Note<String> = decode(op, body)?;
            json(vault.commit_manifest(tenant, &b.note)?)
        }
        Op::Checkpoint => {
            let b: lockbox::vault::Note<String> = decode(op, body)?;
            vault.commit_checkpoint(tenant, &b.note)?;
            Ok(Value::Null)
        }
        Op::AddLevel => {
            let b: lockbox::vault::EpochBody = decode(op, body)?;
            json(vault.commit_level(tenant, &b.new, &b.manifest)?)
        }
        Op::Rotate => {
            let b: lockbox::vault::EpochBody = decode(op, body)?;
            json(vault.commit_rotation(tenant, &b.new, b.rewrapped.as_deref(), &b.manifest)?)
        }
        Op::CreateTenant => {
            let b: lockbox::vault::TenantBody = decode(op, body)?;
            json(vault.commit_tenant(tenant, &b.signer, &b.levels, &b.manifest, Some(&principal.token))?)
        }
        Op::MonitorCheckpoint => {
            let b: lockbox::vault::Note<String> = decode(op, body)?;
            vault.commit_monitor_checkpoint(tenant, &b.note)?;
            Ok(Value::Null)
        }
    }
}

fn decode<T: DeserializeOwned>(op: Op, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body)
        .map_err(|e| Error::usage(format!("the body of a {} commit does not decode: {e}", op.name())))
}

fn json<T: serde::Serialize>(value: T) -> Result<Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::other(format!("cannot encode the answer: {e}")))
}

/// A request or grant is named by its whole id here: a prefix would be resolved across every
/// tenant's, and the answers would tell a token of one tenant which ids another has.
fn full_id(id: &str) -> Result<(), Error> {
    match id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        true => Ok(()),
        false => Err(Error::usage(format!(
            "{:?} is not a full id (32 lowercase hex digits)",
            id.escape_debug().to_string()
        ))),
    }
}

/// An engineer's token acts only for its own engineer.
fn same_engineer(principal: &Principal, engineer: &str) -> Result<(), Error> {
    match &principal.engineer {
        Some(name) if name == engineer => Ok(()),
        _ => Err(Error::denied(format!(
            "access denied: token {} does not stand for engineer {engineer:?}",
            principal.token
        ))),
    }
}

/// A token acts only on its own tenant's requests and grants.
fn same_tenant(tenant: &str, of: &str, what: &str) -> Result<(), Error> {
    if tenant == of {
        return Ok(());
    }
    Err(Error::denied(format!("access denied: that {what} is not of tenant {tenant:?}")))
}
