//! Grants: listing, revocation, and the engineer's side of reading.

use super::Workflow;
use super::{blobs_hash, id_hex, resolve_id};
use crate::crypto::{KeyUnwrap, Purpose, SecretKey, Unwrapper, Wrapped, tenant_fingerprint, verify_note};
use crate::format::{AuditEvent, GrantKeyBlob, GrantNote, Header, SignedNote, hex, origin, rfc3339};
use crate::keyring::Identity;
use crate::store::records::{GrantRecord, TenantRecord};
use crate::vault::Remedy;
use crate::vault::{Error, LevelKeys, valid_name};

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// Usable until it expires.
    Active,
    /// Past its expiry.
    Expired,
    /// Revoked by the customer.
    Revoked,
}

impl GrantStatus {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            GrantStatus::Active => "active",
            GrantStatus::Expired => "expired",
            GrantStatus::Revoked => "revoked",
        }
    }

    /// The status of `grant` at `time`.
    pub fn of(grant: &GrantRecord, time: u64) -> GrantStatus {
        if grant.revoked.is_some() {
            GrantStatus::Revoked
        } else if time >= grant.expires {
            GrantStatus::Expired
        } else {
            GrantStatus::Active
        }
    }
}

impl Workflow<'_> {
    /// Grants, optionally of one tenant and one engineer, oldest first.
    pub fn grants(
        &self,
        tenant: Option<&str>,
        engineer: Option<&str>,
    ) -> Result<Vec<(GrantRecord, GrantStatus)>, Error> {
        let time = self.vault.now();
        let mut out: Vec<_> = self
            .vault
            .store()
            .begin_read()?
            .grants()?
            .into_iter()
            .filter(|g| tenant.is_none_or(|t| g.tenant == t) && engineer.is_none_or(|e| g.engineer == e))
            .map(|g| {
                let s = GrantStatus::of(&g, time);
                (g, s)
            })
            .collect();
        out.sort_by_key(|(g, _)| (g.created, g.id));
        Ok(out)
    }

    /// One grant by id or unique id prefix, with its status now.
    pub fn grant(&self, id: &str) -> Result<(GrantRecord, GrantStatus), Error> {
        let all = self.vault.store().begin_read()?.grants()?;
        let id = resolve_id("grant", id, all.iter().map(|g| &g.id))?;
        let grant = all.into_iter().find(|g| g.id == id).ok_or_else(|| Error::not_found("grant"))?;
        let status = GrantStatus::of(&grant, self.vault.now());
        Ok((grant, status))
    }

    /// Revokes an active grant: it is never used again.
    pub fn revoke_grant(&self, id: &str) -> Result<GrantRecord, Error> {
        if self.vault.is_mirror() {
            let (grant, _) = self.grant(id)?;
            let body = super::IdBody { id: id_hex(&grant.id), reason: None };
            if let Some(sent) = self.vault.upstream_commit(&grant.tenant, crate::vault::Op::Revoke, &body) {
                let revoked: GrantRecord = sent?;
                if revoked.id != grant.id || revoked.tenant != grant.tenant || revoked.revoked.is_none() {
                    return Err(Error::integrity("the server answered the revocation with another grant"));
                }
                return Ok(revoked);
            }
        }
        self.vault.write(|tx| {
            let all = tx.grants()?;
            let id = resolve_id("grant", id, all.iter().map(|g| &g.id))?;
            let mut grant = all.into_iter().find(|g| g.id == id).ok_or_else(|| Error::not_found("grant"))?;
            match GrantStatus::of(&grant, self.vault.now()) {
                GrantStatus::Active => {}
                status => {
                    return Err(Error::conflict(format!(
                        "grant {} is already {}",
                        id_hex(&id),
                        status.name()
                    )));
                }
            }
            grant.revoked = Some((self.vault.now(), self.vault.actor().to_owned()));
            tx.put_grant(&grant)?;
            let event = AuditEvent::GrantRevoke { engineer: grant.engineer.clone() };
            self.vault.record(tx, &grant.tenant, &id_hex(&grant.id), event)?;
            Ok(grant)
        })
    }

    /// The level keys an engineer holds for `tenant` through grants, checked against the
    /// engineer's enrolled public key.
    pub fn engineer_keys<'a>(&self, identity: &'a Identity, tenant: &str) -> Result<EngineerKeys<'a>, Error> {
        valid_name("tenant", tenant)?;
        let snapshot = self.vault.store().begin_read()?;
        let enrolled = snapshot.engineer(&identity.engineer)?.ok_or_else(|| {
            Error::denied(format!(
                "access denied: engineer {:?} is not enrolled in this vault",
                identity.engineer
            ))
        })?;
        if enrolled.public != identity.secret.public().0 {
            return Err(Error::denied(format!(
                "access denied: identity {} is not the key enrolled for engineer {:?}",
                identity.path.display(),
                identity.engineer
            )));
        }
        let all = snapshot.grants()?;
        // Under the engineer's name by the record, or by the signed note: an operator who
        // renames the engineer on a grant signed to a swapped key does not hide it.
        let by_note = |g: &GrantRecord| {
            SignedNote::decode(&g.note).ok().and_then(|n| GrantNote::decode(&n.body).ok()).is_some_and(|n| {
                n.origin == origin(&self.vault.id(), tenant) && n.engineer == identity.engineer
            })
        };
        let to_check: Vec<&GrantRecord> = all
            .iter()
            .filter(|g| (g.tenant == tenant && g.engineer == identity.engineer) || by_note(g))
            .collect();
        let grants: Vec<GrantRecord> =
            all.iter().filter(|g| g.tenant == tenant && g.engineer == identity.engineer).cloned().collect();
        let time = self.vault.now();
        // Every grant under this name is checked, whatever its revoked and expiry fields say
        // (the operator writes those): a grant the customer signed to another key is reported
        // even when the record calls it revoked or expired. One that does not verify cannot
        // be used, so only an active one stops the read (an inactive one may be from before
        // the tenant was deleted and created again, under its old key).
        if !to_check.is_empty() {
            let record = snapshot.tenant(tenant)?.ok_or_else(|| crate::vault::no_tenant(tenant))?;
            for g in to_check {
                match self.check_grant_note(g, &record, identity) {
                    Ok(()) => {}
                    Err(GrantProblem::OtherKey(e)) => return Err(e),
                    Err(GrantProblem::Unusable(e)) if GrantStatus::of(g, time) == GrantStatus::Active => {
                        return Err(e);
                    }
                    Err(GrantProblem::Unusable(_)) => {}
                }
            }
        }
        Ok(EngineerKeys { identity, grants, time })
    }
}

/// Why a grant failed the engineer's check.
enum GrantProblem {
    /// The customer signed it to another engineer key: always reported.
    OtherKey(Error),
    /// It cannot be shown to be one the customer signed (or nothing is pinned to check it).
    Unusable(Error),
}

impl Workflow<'_> {
    /// Checks, on the engineer's side, that `grant` is one the customer signed: with the tenant
    /// key this machine pinned, for this grant, to this engineer's own key, with exactly these
    /// key blobs and this expiry. A grant under the engineer's name wrapped to another key is
    /// reported (the operator may have swapped the key at approval).
    fn check_grant_note(
        &self,
        grant: &GrantRecord,
        tenant: &TenantRecord,
        identity: &Identity,
    ) -> Result<(), GrantProblem> {
        let id = id_hex(&grant.id);
        let pins = self.vault.pins().lookup(self.vault.place(), &self.vault.id(), &tenant.name);
        let pin = pins.map_err(|e| GrantProblem::Unusable(e.into()))?;
        let pin = pin.ok_or_else(|| {
            GrantProblem::Unusable(Error::denied(format!(
                "access denied: tenant {:?} is not pinned on this machine, so grant {id} cannot be checked",
                tenant.name
            ))
            .with_remedy(Remedy::TrustTenant { tenant: tenant.name.clone() }))
        })?;
        let bad = |why: &str| {
            GrantProblem::Unusable(Error::integrity(format!(
                "grant {id} is not one the customer signed: {why}; nothing was read"
            )))
        };
        if tenant_fingerprint(&tenant.signer) != pin.fingerprint {
            return Err(bad("the vault shows another tenant signing key than the one pinned"));
        }
        let parsed = SignedNote::decode(&grant.note).map_err(|e| bad(&e.to_string()))?;
        verify_note(&parsed, &origin(&self.vault.id(), &tenant.name), &tenant.signer)
            .map_err(|_| bad("its signature does not verify"))?;
        let note = GrantNote::decode(&parsed.body).map_err(|e| bad(&e.to_string()))?;
        if note.origin != parsed.name {
            return Err(bad("it names another vault or tenant"));
        }
        let own = identity.secret.public().fingerprint();
        if note.engineer_fingerprint != own {
            return Err(GrantProblem::OtherKey(Error::integrity(format!(
                "grant {id} under your name ({}) was wrapped to key {}, not yours ({}): the engineer key the customer approved was not your own; report this to the customer",
                GrantStatus::of(grant, self.vault.now()).name(),
                hex(&note.engineer_fingerprint),
                hex(&own)
            ))));
        }
        if note.grant != grant.id
            || note.request != grant.request
            || note.engineer != grant.engineer
            || note.not_after != grant.expires
            || note.blobs != blobs_hash(&grant.keys)
        {
            return Err(bad("the grant record differs from the signed grant"));
        }
        Ok(())
    }
}

/// An engineer's view of the level keys released to them for one tenant.
pub struct EngineerKeys<'a> {
    identity: &'a Identity,
    grants: Vec<GrantRecord>,
    time: u64,
}

impl EngineerKeys<'_> {
    /// Why `header`'s item cannot be read, if no active grant covers it.
    fn refusal(&self, h: &Header) -> Error {
        let who = &self.identity.engineer;
        let active: Vec<&GrantRecord> =
            self.grants.iter().filter(|g| GrantStatus::of(g, self.time) == GrantStatus::Active).collect();
        let Some(latest) = self.grants.iter().max_by_key(|g| g.created) else {
            return Error::denied(format!(
                "access denied: no grant: engineer {who:?} has no grant for tenant {:?}",
                h.tenant
            ));
        };
        if active.is_empty() {
            return match &latest.revoked {
                Some((at, by)) => Error::denied(format!(
                    "access denied: grant {} was revoked at {} by {by}",
                    id_hex(&latest.id),
                    rfc3339(*at)
                )),
                None => Error::denied(format!(
                    "access denied: grant {} expired at {}",
                    id_hex(&latest.id),
                    rfc3339(latest.expires)
                )),
            };
        }
        if let Some((g, newest)) =
            active.iter().find_map(|g| g.levels.iter().find(|(l, _)| *l == h.level).map(|(_, e)| (g, *e)))
        {
            return Error::denied(format!(
                "access denied: item {:?} was written (or re-keyed) after grant {} was approved: it is at epoch {} of level {:?}, the grant covers epochs up to {newest}",
                h.item,
                id_hex(&g.id),
                h.key_epoch,
                h.level
            ));
        }
        let released: Vec<String> =
            active.iter().flat_map(|g| g.levels.iter().map(|(l, _)| l.clone())).collect();
        Error::denied(format!(
            "access denied: level {:?} is not released to engineer {who:?} (active grants release: {})",
            h.level,
            released.join(", ")
        ))
    }
}

impl LevelKeys for EngineerKeys<'_> {
    fn reader(&self) -> Option<&str> {
        Some(&self.identity.engineer)
    }

    /// Only while a grant is active: with none (revoked, expired, never), every refusal is one.
    fn scoped(&self) -> bool {
        self.grants.iter().any(|g| GrantStatus::of(g, self.time) == GrantStatus::Active)
    }

    fn unwrapper(&self, h: &Header) -> Result<Box<dyn KeyUnwrap + '_>, Error> {
        let engineer_fp = self.identity.secret.public().fingerprint();
        for grant in self.grants.iter().filter(|g| GrantStatus::of(g, self.time) == GrantStatus::Active) {
            if !grant.levels.iter().any(|(l, newest)| *l == h.level && h.key_epoch <= *newest) {
                continue;
            }
            for bytes in &grant.keys {
                let blob = GrantKeyBlob::decode(bytes)
                    .map_err(|e| Error::integrity(format!("grant {} is damaged: {e}", id_hex(&grant.id))))?;
                let c = &blob.context;
                if c.level != h.level || c.epoch != h.key_epoch {
                    continue;
                }
                if c.grant_id != grant.id
                    || c.tenant != h.tenant
                    || c.engineer != grant.engineer
                    || c.expires != grant.expires
                    || c.engineer_fingerprint != engineer_fp
                {
                    return Err(Error::integrity(format!(
                        "grant {} was altered: a key names another grant",
                        id_hex(&grant.id)
                    )));
                }
                let wrapped = Wrapped { ephemeral: blob.ephemeral, ciphertext: blob.wrapped };
                let secret = Unwrapper::new(&self.identity.secret)
                    .unwrap(Purpose::GrantKey, &c.encode().map_err(Error::encoding)?, &wrapped)
                    .map_err(|_| {
                        Error::integrity(format!(
                            "grant {} is damaged or was tampered with",
                            id_hex(&grant.id)
                        ))
                    })?;
                let key = SecretKey::from_bytes(&secret);
                if key.public().fingerprint() != c.level_fingerprint {
                    return Err(Error::integrity(format!(
                        "grant {} holds a key other than it names",
                        id_hex(&grant.id)
                    )));
                }
                // The expiry that counts is the one bound into the wrap, not the record's.
                if self.time >= c.expires {
                    return Err(Error::denied(format!("access denied: grant {} expired", id_hex(&grant.id))));
                }
                return Ok(Box::new(Unwrapper::new(&key)));
            }
        }
        Err(self.refusal(h))
    }
}
