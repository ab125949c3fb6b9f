//! Tenant manifests in the vault. The customer signs each one ([`crate::customer`]); the
//! vault stores the current one in the tenant record and commits a new one only if it follows
//! the one it holds (compare-and-swap on sequence number and hash) and states the levels the
//! change leaves, with a policy within the limits (the manifest alone states the policy: a
//! change may carry a new one, which is the customer's, signed). Writers never trust the
//! record's fields: they take the current
//! epoch from a manifest signed by the key they pinned ([`Vault::trusted_manifest`]).

use super::Remedy;
use super::{Error, Vault, valid_name};
use crate::crypto::{sha256, tenant_fingerprint, verify_note};
use crate::format::{Checkpoint, Manifest, ManifestMonitor, SignedNote, hex, origin, rfc3339};
use crate::store::Writes;
use crate::store::records::TenantRecord;
use crate::trust::Pins;

/// How long a manifest stays valid for writers unless refreshed, by default: 7 days. A tenant
/// sets its own ([`MIN_MANIFEST_LIFETIME_SECS`]..=[`MAX_MANIFEST_LIFETIME_SECS`]).
pub const MANIFEST_LIFETIME_SECS: u64 = 7 * 86_400;
/// Shortest manifest lifetime a tenant may set: one hour.
pub const MIN_MANIFEST_LIFETIME_SECS: u64 = 3600;
/// Longest: 30 days.
pub const MAX_MANIFEST_LIFETIME_SECS: u64 = 30 * 86_400;
/// How far apart two honest clocks (the monitor's, the vault host's, the customer's, a
/// writer's) may be; it also absorbs a scheduled monitor run that is a little late.
pub const CLOCK_SKEW_SECS: u64 = 300;

/// Where a writer encrypts: see [`Vault::write_target`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteTarget {
    /// The level's current epoch.
    pub epoch: u32,
    /// Its public key.
    pub public: [u8; 32],
    /// Hash of the manifest that says so (for the audit entry).
    pub manifest: [u8; 32],
}

/// SHA-256 of a manifest's whole signed note: what the next one names as `prev`.
pub fn manifest_hash(note: &str) -> [u8; 32] {
    sha256(note.as_bytes())
}

/// Parses `note` and checks it is a manifest of `tenant` of vault `vault`, signed by `signer`.
pub fn open_manifest(
    note: &str,
    vault: &[u8; 16],
    tenant: &str,
    signer: &[u8; 32],
) -> Result<Manifest, Error> {
    let parsed = SignedNote::decode(note)
        .map_err(|e| Error::integrity(format!("the manifest of tenant {tenant:?} is malformed: {e}")))?;
    let name = origin(vault, tenant);
    verify_note(&parsed, &name, signer).map_err(|_| {
        Error::integrity(format!(
            "the manifest of tenant {tenant:?} does not verify under the signing key {}",
            hex(&tenant_fingerprint(signer))
        ))
    })?;
    let manifest = Manifest::decode(&parsed.body)
        .map_err(|e| Error::integrity(format!("the manifest of tenant {tenant:?} is malformed: {e}")))?;
    if manifest.origin != name {
        return Err(Error::integrity(format!(
            "the manifest of tenant {tenant:?} names another vault or tenant"
        )));
    }
    Ok(manifest)
}

/// Parses `note` and checks it is an audit checkpoint of `tenant` of `vault`, signed by `signer`
/// (the tenant key, or the monitor key its manifest names).
pub fn open_checkpoint(
    note: &str,
    vault: &[u8; 16],
    tenant: &str,
    signer: &[u8; 32],
) -> Result<Checkpoint, Error> {
    let bad = |why: String| Error::integrity(format!("the audit checkpoint of tenant {tenant:?} {why}"));
    let parsed = SignedNote::decode(note).map_err(|e| bad(format!("is malformed: {e}")))?;
    let name = origin(vault, tenant);
    verify_note(&parsed, &name, signer).map_err(|_| {
        bad(format!("does not verify under the key that must sign it ({})", hex(&tenant_fingerprint(signer))))
    })?;
    let c = Checkpoint::decode(&parsed.body).map_err(|e| bad(format!("is malformed: {e}")))?;
    if c.origin != name {
        return Err(bad("names another vault or tenant".into()));
    }
    Ok(c)
}

/// A checkpoint is stored only if it names a prefix of `tenant`'s chain as it is in this
/// transaction (its last entry, at position `size`, has hash `head`), and covers no fewer
/// entries than the one it replaces (`stored`). A prefix, not the whole chain: entries that
/// other writers appended after the signer read the chain must not make the checkpoint fail,
/// or under steady traffic it never lands. Readers check what it covers, and freshness by the
/// time it was signed.
fn names_the_chain(
    tx: &dyn Writes,
    tenant: &str,
    c: &Checkpoint,
    stored: Option<Checkpoint>,
    what: &str,
) -> Result<(), Error> {
    let (size, head) = tx.tenant_audit_head(tenant)?.unwrap_or((0, [0; 32]));
    let conflict = |why: String| {
        Error::conflict(format!("the {what} of tenant {tenant:?} {why}; check and sign it again"))
    };
    if c.size > size {
        return Err(conflict(format!("covers {} entries, but its chain has {size}", c.size)));
    }
    if let Some(older) = stored.filter(|s| s.size > c.size) {
        return Err(conflict(format!(
            "covers {} entries, fewer than the stored one ({})",
            c.size, older.size
        )));
    }
    let at = match c.size {
        0 => [0; 32],
        n if n == size => head,
        n => {
            let mut found = None;
            tx.for_each_tenant_audit(tenant, n, &mut |_, entry| {
                found = entry.ok().filter(|e| e.chain == n).map(|e| e.hash);
                Ok(false)
            })?;
            found.unwrap_or([0xff; 32])
        }
    };
    if at != c.head {
        return Err(conflict(format!("does not name its chain's entry {} as it is", c.size)));
    }
    Ok(())
}

/// (level, current epoch, public key) of every level of `record`, sorted by level.
fn stated(record: &TenantRecord) -> Vec<(String, u32, [u8; 32])> {
    let mut out: Vec<_> = record
        .levels
        .iter()
        .filter_map(|l| l.epochs.last().map(|e| (l.name.clone(), e.epoch, e.public)))
        .collect();
    out.sort();
    out
}

/// A manifest committed with a change must state exactly the levels it leaves, and a policy
/// within the limits (its policy is the tenant's: nothing else holds one).
fn states_exactly(m: &Manifest, after: &TenantRecord) -> Result<(), Error> {
    let states: Vec<_> = m.levels.iter().map(|l| (l.name.clone(), l.epoch, l.public)).collect();
    if states != stated(after) {
        return Err(Error::usage(format!(
            "the new manifest of tenant {:?} does not state the levels this change leaves",
            after.name
        )));
    }
    for (what, v) in [("maximum access", m.max_access_secs), ("request TTL", m.request_ttl_secs)] {
        if !(1..=super::MAX_DURATION_SECS).contains(&v) {
            return Err(Error::usage(format!("{what} must be between 1 second and 30 days")));
        }
    }
    Ok(())
}

/// The tenant's access policy, as its current manifest states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Longest access a grant may give, in seconds.
    pub max_access_secs: u64,
    /// How long a request waits for a decision before it expires, in seconds.
    pub request_ttl_secs: u64,
}

/// `record`'s policy, from its manifest (the one place that states it). The vault verified the
/// manifest when it committed it; this only reads it (a reader who does not trust the vault
/// verifies the manifest itself, as writers and the customer do).
pub fn policy(record: &TenantRecord) -> Result<Policy, Error> {
    let bad = |why: String| Error::integrity(format!("the manifest of tenant {:?} {why}", record.name));
    let note = SignedNote::decode(&record.manifest).map_err(|e| bad(format!("is malformed: {e}")))?;
    let m = Manifest::decode(&note.body).map_err(|e| bad(format!("is malformed: {e}")))?;
    Ok(Policy { max_access_secs: m.max_access_secs, request_ttl_secs: m.request_ttl_secs })
}

/// The last manifest this handle verified, keyed by SHA-256 of (signer, tenant, note): a put
/// after a put re-uses the verification instead of repeating it (the key names everything
/// the verification depends on; the vault id is the handle's own).
#[derive(Default)]
pub(crate) struct Verified(std::sync::Mutex<Option<([u8; 32], Manifest)>>);

impl Vault {
    /// [`open_manifest`] for this vault, remembering the last one verified.
    fn verified_manifest(&self, note: &str, tenant: &str, signer: &[u8; 32]) -> Result<Manifest, Error> {
        let key = sha256(&[&signer[..], tenant.as_bytes(), b"\0", note.as_bytes()].concat());
        let mut last = self.verified.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((k, m)) = last.as_ref()
            && *k == key
        {
            return Ok(m.clone());
        }
        let m = open_manifest(note, &self.id(), tenant, signer)?;
        *last = Some((key, m.clone()));
        Ok(m)
    }

    /// Checks that `note` accepts a restored state: it names `before`'s manifest as `prev`,
    /// with a sequence number past the next one (the lost manifests' numbers are never used
    /// again), and states exactly the levels of `after`. Returns `before`'s
    /// sequence number and the new manifest.
    pub(crate) fn check_restore_manifest(
        &self,
        before: &TenantRecord,
        after: &TenantRecord,
        note: &str,
    ) -> Result<(u64, Manifest), Error> {
        let m = open_manifest(note, &self.id(), &after.name, &after.signer)?;
        let current = self.verified_manifest(&before.manifest, &before.name, &before.signer)?;
        if m.prev != manifest_hash(&before.manifest) || m.seq <= current.seq + 1 {
            return Err(Error::conflict(format!(
                "the manifest accepting the restore of tenant {:?} (seq {}) does not follow the vault's current one (seq {}) past a lost one; prepare it again",
                after.name, m.seq, current.seq
            )));
        }
        states_exactly(&m, after)?;
        Ok((current.seq, m))
    }

    /// Checks that `note` is the manifest that follows `before`'s (the first, for a new
    /// tenant) and states exactly the levels of `after`, with a policy within the limits.
    pub(crate) fn check_next_manifest(
        &self,
        before: Option<&TenantRecord>,
        after: &TenantRecord,
        note: &str,
    ) -> Result<Manifest, Error> {
        let m = open_manifest(note, &self.id(), &after.name, &after.signer)?;
        let (seq, prev) = match before {
            None => (1, [0; 32]),
            Some(b) => {
                let current = self.verified_manifest(&b.manifest, &b.name, &b.signer)?;
                (current.seq + 1, manifest_hash(&b.manifest))
            }
        };
        if m.seq != seq || m.prev != prev {
            return Err(Error::conflict(format!(
                "the new manifest of tenant {:?} (seq {}) does not follow the vault's current one (seq {}); prepare the change again",
                after.name,
                m.seq,
                seq - 1
            )));
        }
        states_exactly(&m, after)?;
        Ok(m)
    }

    /// The current manifest of `record` as a writer may use it: signed by the tenant key this
    /// machine pinned for this vault, no older than the newest it has seen, not expired. Each
    /// check that fails is an error naming it (exit 5; exit 4 when nothing is pinned).
    pub(crate) fn trusted_manifest(&self, record: &TenantRecord) -> Result<Manifest, Error> {
        let tenant = &record.name;
        let pins = self.pins();
        let pin = pins.lookup(self.place(), &self.id(), tenant)?.ok_or_else(|| {
            Error::denied(format!(
                "access denied: tenant {tenant:?} of vault {} is not pinned on this machine ({})",
                hex(&self.id()),
                pins.path().map_or("in memory".into(), |p| p.display().to_string()),
            ))
            .with_remedy(Remedy::TrustTenant { tenant: tenant.clone() })
        })?;
        let shown = tenant_fingerprint(&record.signer);
        if shown != pin.fingerprint {
            return Err(Error::integrity(format!(
                "the vault shows tenant {tenant:?} with signing key {}, not the pinned {}: nothing was written",
                hex(&shown),
                hex(&pin.fingerprint)
            )));
        }
        let m = self.verified_manifest(&record.manifest, tenant, &record.signer)?;
        if m.seq < pin.seen {
            return Err(Error::integrity(format!(
                "the vault's manifest of tenant {tenant:?} is seq {}, older than seq {} seen before: the vault was rolled back or is withholding the newest; nothing was written",
                m.seq, pin.seen
            )));
        }
        let hash = manifest_hash(&record.manifest);
        if m.seq == pin.seen && hash != pin.seen_hash {
            return Err(Error::integrity(format!(
                "the vault's manifest of tenant {tenant:?} at seq {} is not the one seen before at that sequence number: a fork; nothing was written",
                m.seq
            )));
        }
        if self.now() >= m.expires {
            return Err(Error::integrity(format!(
                "the manifest of tenant {tenant:?} expired at {}: the customer must refresh it",
                rfc3339(m.expires)
            ))
            .with_remedy(Remedy::RefreshManifest { tenant: tenant.clone() }));
        }
        if let Some(monitor) = m.monitor {
            self.fresh_enough(tenant, &m, hash, &monitor)?;
        }
        pins.saw(self.place(), &self.id(), tenant, m.seq, hash)?;
        Ok(m)
    }

    /// With an audit monitor named, a writer needs the monitor's word that `m` is current: a
    /// checkpoint under the monitor key, signed no longer ago than its interval plus the
    /// clock skew, naming `m` or an older manifest. So an operator who withholds a newer
    /// manifest (one that retired a released epoch) can keep writers on the old one for at
    /// most that window, not the manifest's whole lifetime.
    fn fresh_enough(
        &self,
        tenant: &str,
        m: &Manifest,
        hash: [u8; 32],
        monitor: &ManifestMonitor,
    ) -> Result<(), Error> {
        let refuse = |why: String| {
            Error::integrity(format!(
                "tenant {tenant:?} has an audit monitor (every {}), and {why}: the vault may be withholding a newer manifest; nothing was written",
                crate::format::duration(monitor.interval_secs)
            ))
        };
        let note = self
            .monitor_checkpoint(tenant)?
            .ok_or_else(|| refuse("the vault holds no checkpoint of it".into()))?;
        let c = open_checkpoint(&note, &self.id(), tenant, &monitor.public).map_err(|_| {
            refuse(
                "its checkpoint in the vault does not verify under the monitor key the manifest names".into(),
            )
        })?;
        let now = self.now();
        if c.time > now.saturating_add(CLOCK_SKEW_SECS) {
            return Err(refuse(format!(
                "its newest checkpoint is dated in the future ({})",
                rfc3339(c.time)
            )));
        }
        let age = now.saturating_sub(c.time);
        if age > monitor.interval_secs.saturating_add(CLOCK_SKEW_SECS) {
            return Err(refuse(format!(
                "its newest checkpoint is {} old, more than its interval and {} of clock skew",
                crate::format::duration(age),
                crate::format::duration(CLOCK_SKEW_SECS)
            )));
        }
        let (seq, named) =
            c.manifest.ok_or_else(|| refuse("its newest checkpoint names no manifest".into()))?;
        if m.seq < seq || (m.seq == seq && hash != named) {
            return Err(refuse(format!(
                "the monitor saw manifest seq {seq} {} ago, but the vault shows seq {}",
                crate::format::duration(age),
                m.seq
            )));
        }
        Ok(())
    }

    /// Where a writer encrypts an item of `level` of `record`'s tenant: the current epoch and
    /// public key that the trusted manifest names (never the record's own fields).
    pub(crate) fn write_target(&self, record: &TenantRecord, level: &str) -> Result<WriteTarget, Error> {
        let m = self.trusted_manifest(record)?;
        let l = m.level(level).ok_or_else(|| {
            let names: Vec<&str> = m.levels.iter().map(|l| l.name.as_str()).collect();
            Error::not_found(format!(
                "tenant {:?} has no level {level:?} (levels: {})",
                record.name,
                names.join(", ")
            ))
        })?;
        Ok(WriteTarget { epoch: l.epoch, public: l.public, manifest: manifest_hash(&record.manifest) })
    }

    /// At the commit of a write sealed for `epoch` and `public` of `level`: the level's write
    /// target must still be that key, under the manifest trusted now (a rotation, an approval,
    /// or a tenant deleted and made again in between refuse it). Returns the hash of the
    /// manifest trusted now, which the write's audit entry names.
    pub(crate) fn still_target(
        &self,
        record: &TenantRecord,
        level: &str,
        item: &str,
        epoch: u32,
        public: &[u8; 32],
    ) -> Result<[u8; 32], Error> {
        let now = self.write_target(record, level)?;
        // The record's epoch must agree too: an operator who drops the epoch from it (and
        // cannot sign a manifest) gets no item stored at an epoch the vault no longer shows.
        // (Its key is the manifest's, whatever key the record shows.)
        let shown = super::current_epoch(record, level)?.epoch;
        if now.epoch != epoch || &now.public != public || shown != epoch {
            return Err(Error::conflict(format!(
                "level {level:?} was re-keyed while {item:?} was being written; nothing was stored, try again"
            )));
        }
        Ok(now.manifest)
    }

    /// Stores the customer's signed audit checkpoint of `tenant` (it adds no audit entry, so
    /// the chain it covers stays what it covered). It must verify under the tenant key and
    /// name the tenant's chain as it is now.
    pub fn commit_checkpoint(&self, tenant: &str, note: &str) -> Result<Checkpoint, Error> {
        valid_name("tenant", tenant)?;
        let sent: Option<Result<(), Error>> =
            self.upstream_commit(tenant, super::Op::Checkpoint, &super::upstream::Note { note });
        if let Some(sent) = sent {
            sent?;
            let record = self.tenant(tenant)?;
            return open_checkpoint(note, &self.id(), tenant, &record.signer);
        }
        self.write(|tx| {
            let mut record = tx.tenant(tenant)?.ok_or_else(|| super::no_tenant(tenant))?;
            let c = open_checkpoint(note, &self.id(), tenant, &record.signer)?;
            let stored = open_checkpoint(&record.checkpoint, &self.id(), tenant, &record.signer).ok();
            names_the_chain(tx, tenant, &c, stored, "checkpoint")?;
            record.checkpoint = note.to_owned();
            tx.put_tenant(&record)?;
            Ok(c)
        })
    }

    /// Stores the checkpoint of `tenant` that its audit monitor signed (no audit entry either):
    /// it must verify under the monitor key the tenant's current manifest names, and name the
    /// tenant's chain as it is now. (A courtesy to honest callers: readers check it again.)
    pub fn commit_monitor_checkpoint(&self, tenant: &str, note: &str) -> Result<Checkpoint, Error> {
        valid_name("tenant", tenant)?;
        let monitor_key = |record: &TenantRecord| -> Result<[u8; 32], Error> {
            let manifest = self.verified_manifest(&record.manifest, tenant, &record.signer)?;
            let monitor = manifest.monitor.ok_or_else(|| {
                Error::denied(format!(
                    "access denied: the manifest of tenant {tenant:?} names no audit monitor"
                ))
            })?;
            Ok(monitor.public)
        };
        let sent: Option<Result<(), Error>> =
            self.upstream_commit(tenant, super::Op::MonitorCheckpoint, &super::upstream::Note { note });
        if let Some(sent) = sent {
            sent?;
            return open_checkpoint(note, &self.id(), tenant, &monitor_key(&self.tenant(tenant)?)?);
        }
        self.write(|tx| {
            let record = tx.tenant(tenant)?.ok_or_else(|| super::no_tenant(tenant))?;
            let public = monitor_key(&record)?;
            let c = open_checkpoint(note, &self.id(), tenant, &public)?;
            let stored = tx
                .monitor_checkpoint(tenant)?
                .and_then(|n| open_checkpoint(&n, &self.id(), tenant, &public).ok());
            names_the_chain(tx, tenant, &c, stored, "monitor checkpoint")?;
            tx.put_monitor_checkpoint(tenant, note)?;
            Ok(c)
        })
    }

    /// The last checkpoint of `tenant` its audit monitor stored (the operator's to show or hide).
    pub fn monitor_checkpoint(&self, tenant: &str) -> Result<Option<String>, Error> {
        Ok(self.store().begin_read()?.monitor_checkpoint(tenant)?)
    }

    /// Pins `tenant` of this vault to the signing key with `fingerprint`, on this machine.
    pub fn trust_tenant(&self, tenant: &str, fingerprint: [u8; 32]) -> Result<(), Error> {
        valid_name("tenant", tenant)?;
        Ok(self.pins().pin(self.place(), &self.id(), tenant, fingerprint)?)
    }

    /// The trust store writers check manifests against.
    pub fn pins(&self) -> &std::sync::Arc<Pins> {
        &self.pins
    }
}
