//! Requests and the customer's decision on them.

use super::Workflow;
use super::approval::{Ask, Limits, check_duration, decide};
use super::{MAX_CASE_ID_LEN, MAX_REASON_LEN, check_text, id_hex, resolve_id};
use crate::crypto::random_array;
use crate::format::AuditEvent;
use crate::store::Writes;
use crate::store::records::{Decision, GrantRecord, RequestRecord};
use crate::vault::{Error, NewEpoch, Op, current_epoch, epoch_record, find_level, no_tenant, valid_name};

/// What an engineer asks for.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Requesting engineer (must be enrolled).
    pub engineer: &'a str,
    /// Levels wanted.
    pub levels: &'a [String],
    /// Justification.
    pub reason: &'a str,
    /// Support case id.
    pub case_id: &'a str,
    /// Access wanted, seconds; `None` for the tenant's maximum.
    pub duration_secs: Option<u64>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Waiting for the customer.
    Pending,
    /// Approved; its grant exists.
    Approved,
    /// Denied.
    Denied,
    /// Not decided before its TTL ran out.
    Expired,
    /// Approved, then its grant was revoked.
    Revoked,
}

impl RequestStatus {
    /// Lower-case name, as the CLI prints and accepts it.
    pub fn name(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Expired => "expired",
            RequestStatus::Revoked => "revoked",
        }
    }

    /// The status of `request` at `time`.
    pub fn of(request: &RequestRecord, grant: Option<&GrantRecord>, time: u64) -> RequestStatus {
        match request.decision {
            Decision::Pending if time >= request.expires => RequestStatus::Expired,
            Decision::Pending => RequestStatus::Pending,
            Decision::Denied => RequestStatus::Denied,
            Decision::Approved if grant.is_some_and(|g| g.revoked.is_some()) => RequestStatus::Revoked,
            Decision::Approved => RequestStatus::Approved,
        }
    }
}

impl Workflow<'_> {
    /// Files a request; it waits for the customer until the tenant's request TTL runs out.
    pub fn create_request(&self, req: &NewRequest<'_>) -> Result<RequestRecord, Error> {
        self.new_request(req, None)
    }

    /// [`Workflow::create_request`] by the holder of the identity whose public key is `key`: the
    /// key enrolled for the engineer must be it (else access denied, nothing filed), so the
    /// digest the engineer's client prints names the key the customer will release to.
    pub fn file_request(&self, req: &NewRequest<'_>, key: &[u8; 32]) -> Result<RequestRecord, Error> {
        self.new_request(req, Some(key))
    }

    fn new_request(&self, req: &NewRequest<'_>, key: Option<&[u8; 32]>) -> Result<RequestRecord, Error> {
        valid_name("tenant", req.tenant)?;
        valid_name("engineer", req.engineer)?;
        if req.levels.is_empty() {
            return Err(Error::usage("a request names at least one level"));
        }
        check_text("the reason", req.reason, MAX_REASON_LEN, true)?;
        check_text("the case id", req.case_id, MAX_CASE_ID_LEN, false)?;
        let body = RequestBody {
            engineer: req.engineer.to_owned(),
            levels: req.levels.to_vec(),
            reason: req.reason.to_owned(),
            case_id: req.case_id.to_owned(),
            duration_secs: req.duration_secs,
            key: key.copied(),
        };
        if let Some(sent) = self.vault.upstream_commit(req.tenant, Op::Request, &body) {
            // The digest the engineer gives the customer is computed from this record: it must
            // be the request sent, pending, not one the server changed.
            let record: RequestRecord = sent?;
            let same = record.tenant == req.tenant
                && record.engineer == req.engineer
                && record.levels == req.levels
                && record.reason == req.reason
                && record.case_id == req.case_id
                && req.duration_secs.is_none_or(|d| d == record.duration_secs)
                && record.decision == Decision::Pending;
            if !same {
                return Err(Error::integrity("the server answered with another request than the one filed"));
            }
            return Ok(record);
        }
        self.vault.write(|tx| {
            let tenant = tx.tenant(req.tenant)?.ok_or_else(|| no_tenant(req.tenant))?;
            let mut levels: Vec<String> = Vec::new();
            for level in req.levels {
                find_level(&tenant, level)?;
                if levels.contains(level) {
                    return Err(Error::usage(format!("level {level:?} is listed twice")));
                }
                levels.push(level.clone());
            }
            let enrolled = tx
                .engineer(req.engineer)?
                .ok_or_else(|| Error::not_found(format!("no engineer {:?} is enrolled", req.engineer)))?;
            if key.is_some_and(|k| *k != enrolled.public) {
                return Err(Error::denied(format!(
                    "access denied: the vault shows another key enrolled for engineer {:?} than this identity's (it was replaced, or this is not the identity that was enrolled); nothing was filed",
                    req.engineer
                )));
            }
            let policy = crate::vault::policy(&tenant)?;
            let duration = req.duration_secs.unwrap_or(policy.max_access_secs);
            check_duration(duration, Limits { tenant: &tenant.name, max_access_secs: policy.max_access_secs })?;
            let time = self.vault.now();
            let record = RequestRecord {
                id: random_array()?,
                tenant: req.tenant.to_owned(),
                engineer: req.engineer.to_owned(),
                levels,
                reason: req.reason.to_owned(),
                case_id: req.case_id.to_owned(),
                duration_secs: duration,
                created: time,
                expires: time.saturating_add(policy.request_ttl_secs),
                decision: Decision::Pending,
                decided: None,
                decided_by: None,
                decision_reason: None,
                grant: None,
            };
            tx.put_request(&record)?;
            let event = AuditEvent::RequestCreate {
                levels: record.levels.clone(),
                case_id: req.case_id.to_owned(),
                duration_secs: duration,
                reason: req.reason.to_owned(),
            };
            self.vault.record_as(tx, req.engineer, req.tenant, &id_hex(&record.id), event)?;
            Ok(record)
        })
    }

    /// A request by id or unique id prefix, with its status now.
    pub fn request(&self, id: &str) -> Result<(RequestRecord, RequestStatus), Error> {
        let snapshot = self.vault.store().begin_read()?;
        let all = snapshot.requests()?;
        let id = resolve_id("request", id, all.iter().map(|r| &r.id))?;
        let record = all.into_iter().find(|r| r.id == id).ok_or_else(|| Error::not_found("request"))?;
        let grant = record.grant.map(|g| snapshot.grant(&g)).transpose()?.flatten();
        let status = RequestStatus::of(&record, grant.as_ref(), self.vault.now());
        Ok((record, status))
    }

    /// Requests, optionally of one tenant and status, oldest first.
    pub fn requests(
        &self,
        tenant: Option<&str>,
        status: Option<RequestStatus>,
    ) -> Result<Vec<(RequestRecord, RequestStatus)>, Error> {
        let snapshot = self.vault.store().begin_read()?;
        let grants = snapshot.grants()?;
        let time = self.vault.now();
        let mut out: Vec<(RequestRecord, RequestStatus)> = snapshot
            .requests()?
            .into_iter()
            .filter(|r| tenant.is_none_or(|t| r.tenant == t))
            .map(|r| {
                let grant = grants.iter().find(|g| Some(g.id) == r.grant);
                let s = RequestStatus::of(&r, grant, time);
                (r, s)
            })
            .filter(|(_, s)| status.is_none_or(|want| *s == want))
            .collect();
        out.sort_by_key(|(r, _)| (r.created, r.id));
        Ok(out)
    }

    /// Denies a pending request.
    pub fn deny_request(&self, id: &str, reason: Option<&str>) -> Result<RequestRecord, Error> {
        if let Some(reason) = reason {
            check_text("the reason", reason, MAX_REASON_LEN, true)?;
        }
        let (record, _) = self.request(id)?;
        let body = IdBody { id: id_hex(&record.id), reason: reason.map(str::to_owned) };
        if let Some(sent) = self.vault.upstream_commit(&record.tenant, Op::Deny, &body) {
            let denied: RequestRecord = sent?;
            if denied.id != record.id || denied.tenant != record.tenant || denied.decision != Decision::Denied
            {
                return Err(Error::integrity("the server answered the denial with another request"));
            }
            return Ok(denied);
        }
        self.vault.write(|tx| {
            let mut record = pending(tx, &record.id, self.vault.now())?;
            record.decision = Decision::Denied;
            record.decided = Some(self.vault.now());
            record.decided_by = Some(self.vault.actor().to_owned());
            record.decision_reason = reason.map(str::to_owned);
            tx.put_request(&record)?;
            let event = AuditEvent::RequestDeny { reason: reason.unwrap_or("").to_owned() };
            self.vault.record(tx, &record.tenant, &id_hex(&record.id), event)?;
            Ok(record)
        })
    }

    /// Commits an approval the customer prepared ([`crate::customer::approve_request`]): the
    /// grant (its key blobs already wrapped to the engineer) and the released levels' next
    /// epochs, whose private keys the customer has saved. Everything the customer read is
    /// checked again in the same transaction: the request is still pending and asks for at
    /// least what is granted, for no shorter a time; the engineer's key is the one the blobs are
    /// wrapped to; each released level is still at the epoch released, and its new epoch is the
    /// next one. Anything else changes nothing (exit 6).
    pub fn commit_approval(&self, approval: &Approval) -> Result<GrantRecord, Error> {
        let grant = &approval.grant;
        if let Some(sent) = self.vault.upstream_commit(&grant.tenant, Op::Approve, approval) {
            // What the keyring then records is this grant's, never a grant the server names.
            let stored: GrantRecord = sent?;
            if stored != *grant {
                return Err(Error::integrity(
                    "the server answered the approval with another grant than the one sent",
                ));
            }
            return Ok(stored);
        }
        self.vault.write(|tx| {
            let mut request = tx
                .request(&grant.request)?
                .ok_or_else(|| Error::not_found(format!("no request {}", id_hex(&grant.request))))?;
            let changed = |what: &str| {
                Error::conflict(format!("{what} changed while the approval was prepared; approve again"))
            };
            // Who approves and when are the committing caller's, not whatever the approval says.
            if grant.approved_by != self.vault.actor() {
                return Err(Error::denied(format!(
                    "access denied: the approval names {:?} as approver, but {:?} is committing it",
                    grant.approved_by,
                    self.vault.actor()
                )));
            }
            let now = self.vault.now();
            if grant.created > now || now - grant.created > MAX_PREPARE_SECS || grant.expires < grant.created
            {
                return Err(Error::usage(format!(
                    "the approval was prepared at {}, not within the last {}: prepare it again",
                    crate::format::rfc3339(grant.created),
                    crate::format::duration(MAX_PREPARE_SECS)
                )));
            }
            if tx.grant(&grant.id)?.is_some() {
                return Err(Error::conflict(format!("grant {} already exists", id_hex(&grant.id))));
            }
            if grant.tenant != request.tenant || grant.engineer != request.engineer {
                return Err(changed("the request"));
            }
            let mut tenant = tx.tenant(&request.tenant)?.ok_or_else(|| no_tenant(&request.tenant))?;
            // The approval check the customer ran, run again on what this transaction reads.
            let status = RequestStatus::of(&request, None, now);
            let released: Vec<String> = grant.levels.iter().map(|(level, _)| level.clone()).collect();
            let duration = grant.expires.saturating_sub(grant.created);
            let limits = Limits {
                tenant: &tenant.name,
                max_access_secs: crate::vault::policy(&tenant)?.max_access_secs,
            };
            decide(
                &request,
                status,
                self.vault.actor(),
                limits,
                Ask { levels: Some(&released), duration_secs: Some(duration) },
            )?;
            let engineer = tx
                .engineer(&request.engineer)?
                .ok_or_else(|| Error::not_found(format!("no engineer {:?}", request.engineer)))?;
            if engineer.public != approval.engineer_public {
                return Err(changed("the engineer's key"));
            }
            let before = tenant.clone();
            if grant.levels.len() != approval.new_epochs.len() {
                return Err(Error::usage("each released level needs its next epoch"));
            }
            for ((level, released), next) in grant.levels.iter().zip(&approval.new_epochs) {
                let current = current_epoch(&tenant, level)?.epoch;
                if current != *released || next.level != *level || released.checked_add(1) != Some(next.epoch)
                {
                    return Err(changed(&format!("level {level:?}'s epoch")));
                }
                let entry = tenant
                    .levels
                    .iter_mut()
                    .find(|l| &l.name == level)
                    .ok_or_else(|| changed("the tenant"))?;
                entry.epochs.push(epoch_record(next.epoch, next.public, grant.created));
            }
            let tenant = self.vault.put_with_manifest(tx, &before, tenant, &approval.manifest)?;
            tx.put_grant(grant)?;
            request.decision = Decision::Approved;
            request.decided = Some(grant.created);
            request.decided_by = Some(grant.approved_by.clone());
            request.grant = Some(grant.id);
            tx.put_request(&request)?;
            let event = AuditEvent::RequestApprove {
                grant: grant.id,
                engineer: grant.engineer.clone(),
                levels: grant.levels.clone(),
                duration_secs: duration,
            };
            self.vault.record_as(tx, &grant.approved_by, &tenant.name, &id_hex(&request.id), event)?;
            Ok(grant.clone())
        })
    }
}

/// Longest time between preparing an approval and committing it: the grant's times are the
/// prepare step's, so an approval kept for later would start its access then.
pub const MAX_PREPARE_SECS: u64 = 300;

/// A request as an engineer's client sends it to a server ([`Op::Request`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RequestBody {
    /// The requesting engineer (the server requires the one its token stands for).
    pub engineer: String,
    /// Levels wanted.
    pub levels: Vec<String>,
    /// Justification.
    pub reason: String,
    /// Support case id.
    pub case_id: String,
    /// Access wanted, seconds; `None` for the tenant's maximum.
    pub duration_secs: Option<u64>,
    /// The public key of the engineer's identity, if the client has it.
    pub key: Option<[u8; 32]>,
}

impl RequestBody {
    /// The request it describes, for `tenant`.
    pub fn request<'a>(&'a self, tenant: &'a str) -> NewRequest<'a> {
        NewRequest {
            tenant,
            engineer: &self.engineer,
            levels: &self.levels,
            reason: &self.reason,
            case_id: &self.case_id,
            duration_secs: self.duration_secs,
        }
    }
}

/// A request or grant named by its full id, with a reason where one is given ([`Op::Deny`],
/// [`Op::Revoke`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct IdBody {
    /// The full id (32 hex digits).
    pub id: String,
    /// Why (a denial's reason).
    pub reason: Option<String>,
}

/// An approval prepared by the customer, for the vault to commit: public material only.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Approval {
    /// The grant, with its key blobs (wrapped to the engineer) and the released epochs.
    pub grant: GrantRecord,
    /// The engineer key the blobs are wrapped to.
    pub engineer_public: [u8; 32],
    /// Each released level's next epoch, in the order of `grant.levels`.
    pub new_epochs: Vec<NewEpoch>,
    /// The customer's next manifest: the released levels at their new epochs.
    pub manifest: String,
}

/// The request, if it is still pending; a conflict naming its state if not.
fn pending(tx: &dyn Writes, id: &[u8; 16], time: u64) -> Result<RequestRecord, Error> {
    let record = tx.request(id)?.ok_or_else(|| Error::not_found(format!("no request {}", id_hex(id))))?;
    let grant = record.grant.map(|g| tx.grant(&g)).transpose()?.flatten();
    match RequestStatus::of(&record, grant.as_ref(), time) {
        RequestStatus::Pending => Ok(record),
        status => Err(Error::conflict(format!("request {} is {}, not pending", id_hex(id), status.name()))),
    }
}

/// The request digest (docs/FORMAT.md): SHA-256 over [`crate::format::RequestDigestInput`]'s
/// encoding of the request, the engineer's key fingerprint and the tenant's origin. The
/// engineer's client computes it from its own identity when filing; the customer compares it
/// with the vault's view before releasing anything. A request whose fields do not fit the
/// encoding (one the operator edited) is an error, never a digest over cut fields.
pub fn request_digest(
    vault: &[u8; 16],
    request: &RequestRecord,
    engineer_public: &[u8; 32],
) -> Result<[u8; 32], Error> {
    let input = crate::format::RequestDigestInput {
        origin: &crate::format::origin(vault, &request.tenant),
        id: &request.id,
        engineer: &request.engineer,
        engineer_fingerprint: &crate::crypto::fingerprint(engineer_public),
        levels: &request.levels,
        duration_secs: request.duration_secs,
        case_id: &request.case_id,
        reason_sha256: &crate::crypto::sha256(request.reason.as_bytes()),
    };
    let bytes =
        input.encode().map_err(|e| Error::integrity(format!("request {}: {e}", id_hex(&request.id))))?;
    Ok(crate::crypto::sha256(&bytes))
}
