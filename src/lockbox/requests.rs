//! Requests and the customer's decision on them.

use super::{MAX_CASE_ID_LEN, MAX_REASON_LEN, check_text, id_hex, resolve_id};
use crate::crypto::{PublicKey, Purpose, Wrapper, fingerprint, random_array};
use crate::format::{GrantKeyBlob, GrantKeyContext};
use crate::keyring::Keyring;
use crate::store::records::{Decision, GrantRecord, RequestRecord, TenantRecord};
use crate::store::{Reads, WriteTx};
use crate::vault::{Error, MAX_DURATION_SECS, Vault, find_level, no_tenant, now, valid_name};

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

impl Vault {
    /// Files a request; it waits for the customer until the tenant's request TTL runs out.
    pub fn create_request(&self, req: &NewRequest<'_>) -> Result<RequestRecord, Error> {
        valid_name("tenant", req.tenant)?;
        valid_name("engineer", req.engineer)?;
        if req.levels.is_empty() {
            return Err(Error::usage("a request names at least one level"));
        }
        check_text("the reason", req.reason, MAX_REASON_LEN, true)?;
        check_text("the case id", req.case_id, MAX_CASE_ID_LEN, false)?;
        let tx = self.store().begin_write()?;
        let tenant = tx.tenant(req.tenant)?.ok_or_else(|| no_tenant(req.tenant))?;
        let mut levels: Vec<String> = Vec::new();
        for level in req.levels {
            find_level(&tenant, level)?;
            if levels.contains(level) {
                return Err(Error::usage(format!("level {level:?} is listed twice")));
            }
            levels.push(level.clone());
        }
        if tx.engineer(req.engineer)?.is_none() {
            return Err(Error::not_found(format!("no engineer {:?} is enrolled", req.engineer)));
        }
        let duration = req.duration_secs.unwrap_or(tenant.max_access_secs);
        check_duration(duration, &tenant)?;
        let time = now();
        let record = RequestRecord {
            id: random_array()?,
            tenant: req.tenant.to_owned(),
            engineer: req.engineer.to_owned(),
            levels,
            reason: req.reason.to_owned(),
            case_id: req.case_id.to_owned(),
            duration_secs: duration,
            created: time,
            expires: time.saturating_add(tenant.request_ttl_secs),
            decision: Decision::Pending,
            decided: None,
            decided_by: None,
            decision_reason: None,
            grant: None,
        };
        tx.put_request(&record)?;
        let detail = format!(
            "levels {}; case {}; {}s; reason: {}",
            record.levels.join(","),
            req.case_id,
            duration,
            req.reason
        );
        self.record_as(&tx, req.engineer, "request.create", req.tenant, &id_hex(&record.id), &detail)?;
        tx.commit()?;
        Ok(record)
    }

    /// A request by id or unique id prefix, with its status now.
    pub fn request(&self, id: &str) -> Result<(RequestRecord, RequestStatus), Error> {
        let snapshot = self.store().begin_read()?;
        let all = snapshot.requests()?;
        let id = resolve_id("request", id, all.iter().map(|r| &r.id))?;
        let record = all.into_iter().find(|r| r.id == id).ok_or_else(|| Error::not_found("request"))?;
        let grant = record.grant.map(|g| snapshot.grant(&g)).transpose()?.flatten();
        let status = RequestStatus::of(&record, grant.as_ref(), now());
        Ok((record, status))
    }

    /// Requests, optionally of one tenant and status, oldest first.
    pub fn requests(
        &self,
        tenant: Option<&str>,
        status: Option<RequestStatus>,
    ) -> Result<Vec<(RequestRecord, RequestStatus)>, Error> {
        let snapshot = self.store().begin_read()?;
        let grants = snapshot.grants()?;
        let time = now();
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
        let tx = self.store().begin_write()?;
        let mut record = pending(&tx, &record.id)?;
        record.decision = Decision::Denied;
        record.decided = Some(now());
        record.decided_by = Some(self.actor().to_owned());
        record.decision_reason = reason.map(str::to_owned);
        tx.put_request(&record)?;
        self.record(&tx, "request.deny", &record.tenant, &id_hex(&record.id), reason.unwrap_or(""))?;
        tx.commit()?;
        Ok(record)
    }

    /// Approves a pending request for `levels` (default: all requested) and `duration_secs`
    /// (default: as requested; never more than requested or the tenant's maximum). Wraps the
    /// released levels' keys, every epoch up to now, to the engineer; then rotates each released
    /// level, saving the new keys in `keyring` before anything is committed.
    pub fn approve_request(
        &self,
        id: &str,
        levels: Option<&[String]>,
        duration_secs: Option<u64>,
        keyring: &mut Keyring,
    ) -> Result<GrantRecord, Error> {
        let (found, _) = self.request(id)?;
        if found.engineer == self.actor() {
            return Err(Error::denied(format!(
                "access denied: {} filed this request and cannot approve it",
                found.engineer
            )));
        }
        let tx = self.store().begin_write()?;
        let mut request = pending(&tx, &found.id)?;
        let mut tenant = tx.tenant(&request.tenant)?.ok_or_else(|| no_tenant(&request.tenant))?;
        let released = chosen_levels(&request, levels)?;
        let duration = match duration_secs {
            Some(d) if d > request.duration_secs => {
                return Err(Error::usage(format!(
                    "the request asked for {}s; approval cannot give more",
                    request.duration_secs
                )));
            }
            Some(d) => d,
            None => request.duration_secs,
        };
        check_duration(duration, &tenant)?;
        let engineer = tx
            .engineer(&request.engineer)?
            .ok_or_else(|| Error::not_found(format!("no engineer {:?}", request.engineer)))?;
        let time = now();
        let mut grant = GrantRecord {
            id: random_array()?,
            request: request.id,
            tenant: tenant.name.clone(),
            engineer: engineer.name.clone(),
            levels: Vec::new(),
            created: time,
            expires: time.saturating_add(duration),
            approved_by: self.actor().to_owned(),
            revoked: None,
            keys: Vec::new(),
        };
        wrap_level_keys(&mut grant, &tenant, &released, &PublicKey(engineer.public), keyring)?;
        self.advance_epochs(&mut tenant, &released, keyring)?;
        tx.put_tenant(&tenant)?;
        tx.put_grant(&grant)?;
        request.decision = Decision::Approved;
        request.decided = Some(time);
        request.decided_by = Some(self.actor().to_owned());
        request.grant = Some(grant.id);
        tx.put_request(&request)?;
        let released_list: Vec<String> = grant.levels.iter().map(|(l, e)| format!("{l}@1..{e}")).collect();
        let detail = format!(
            "grant {} to {}: {} for {}s",
            id_hex(&grant.id),
            grant.engineer,
            released_list.join(","),
            duration
        );
        self.record(&tx, "request.approve", &tenant.name, &id_hex(&request.id), &detail)?;
        tx.commit()?;
        Ok(grant)
    }
}

/// The request, if it is still pending; a conflict naming its state if not.
fn pending(tx: &WriteTx, id: &[u8; 16]) -> Result<RequestRecord, Error> {
    let record = tx.request(id)?.ok_or_else(|| Error::not_found(format!("no request {}", id_hex(id))))?;
    let grant = record.grant.map(|g| tx.grant(&g)).transpose()?.flatten();
    match RequestStatus::of(&record, grant.as_ref(), now()) {
        RequestStatus::Pending => Ok(record),
        status => Err(Error::conflict(format!("request {} is {}, not pending", id_hex(id), status.name()))),
    }
}

fn chosen_levels(request: &RequestRecord, levels: Option<&[String]>) -> Result<Vec<String>, Error> {
    let Some(levels) = levels else { return Ok(request.levels.clone()) };
    if levels.is_empty() {
        return Err(Error::usage("approve at least one level, or deny the request"));
    }
    let mut out: Vec<String> = Vec::new();
    for level in levels {
        if !request.levels.contains(level) {
            return Err(Error::usage(format!(
                "level {level:?} was not requested (requested: {})",
                request.levels.join(", ")
            )));
        }
        if !out.contains(level) {
            out.push(level.clone());
        }
    }
    Ok(out)
}

fn check_duration(duration: u64, tenant: &TenantRecord) -> Result<(), Error> {
    if duration == 0 || duration > MAX_DURATION_SECS {
        return Err(Error::usage("the access duration must be between 1 second and 30 days"));
    }
    if duration > tenant.max_access_secs {
        return Err(Error::usage(format!(
            "{duration}s is longer than tenant {:?} allows ({}s; see `lockbox tenant policy`)",
            tenant.name, tenant.max_access_secs
        )));
    }
    Ok(())
}

/// Wraps the private key of every epoch of each released level to the engineer, with the
/// grant's full context bound. One ephemeral key serves the whole grant; each wrap key is
/// still its own, expanded from a context that differs in level or epoch.
fn wrap_level_keys(
    grant: &mut GrantRecord,
    tenant: &TenantRecord,
    released: &[String],
    engineer: &PublicKey,
    keyring: &Keyring,
) -> Result<(), Error> {
    let wrapper = Wrapper::new(engineer)?;
    for level in released {
        let record = find_level(tenant, level)?;
        for epoch in &record.epochs {
            let key = keyring.key(&tenant.name, level, epoch.epoch).ok_or_else(|| {
                Error::denied(format!(
                    "access denied: keyring {} holds no key for tenant {:?}, level {level:?}, epoch {}; it cannot release it",
                    keyring.path().display(),
                    tenant.name,
                    epoch.epoch
                ))
            })?;
            if key.public().0 != epoch.public {
                return Err(Error::integrity(format!(
                    "the vault's public key for level {level:?} epoch {} does not match the keyring's",
                    epoch.epoch
                )));
            }
            let context = GrantKeyContext {
                grant_id: grant.id,
                tenant: tenant.name.clone(),
                level: level.clone(),
                epoch: epoch.epoch,
                engineer: grant.engineer.clone(),
                expires: grant.expires,
                engineer_fingerprint: engineer.fingerprint(),
                level_fingerprint: fingerprint(&epoch.public),
            };
            let wrapped = wrapper.wrap(Purpose::GrantKey, &context.encode(), &key.to_bytes())?;
            let blob = GrantKeyBlob { context, ephemeral: wrapped.ephemeral, wrapped: wrapped.ciphertext };
            grant.keys.push(blob.encode());
        }
        let newest = record.epochs.last().map_or(0, |e| e.epoch);
        grant.levels.push((level.clone(), newest));
    }
    Ok(())
}
