//! The customer's audit checkpoints. Before it signs anything, a keyring command checks the
//! tenant's own audit chain: consistent from its first entry, still holding the entry the
//! keyring's last checkpoint named at the position it named (so nothing before it was
//! rewritten, reordered, dropped or cut back), and every manifest in it one this keyring
//! signed, in sequence. Only then does it sign a new checkpoint of the chain as it is: it never
//! signs while the log disagrees with what it signed before.

use super::sync::{tenant_keys, tenant_keys_mut};
use crate::audit::{Event, Verdict, verify_tenant_from};
use crate::crypto::{sign_note, verify_note};
use std::collections::BTreeMap;

use crate::format::{Checkpoint, GrantNote, Manifest, SignedNote, origin};
use crate::keyring::{Keyring, ManifestMark};
use crate::lockbox::Workflow;
use crate::vault::{Error, Vault, manifest_hash, open_checkpoint, open_manifest};

/// What a check of a tenant's audit chain found intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Entries in the tenant's chain.
    pub size: u64,
    /// Hash of the last.
    pub head: [u8; 32],
    /// Entries the keyring's previous checkpoint covered.
    pub checkpointed: u64,
    /// Manifests verified (since the last checkpoint, when only those entries were read).
    pub manifests: u64,
    /// The newest manifest in the chain: its sequence number and hash.
    pub manifest: Option<(u64, [u8; 32])>,
    /// The audit monitor the tenant's manifest names, and what the vault shows of it.
    pub monitor: MonitorSeen,
}

/// The audit monitor's side of a check: whether the manifest names one, and its last
/// checkpoint the vault holds (checked against the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorSeen {
    /// The manifest names no monitor.
    None,
    /// It names one, every `interval_secs`; the vault shows no checkpoint of it that verifies
    /// (why: `missing`).
    Missing {
        /// The monitor's interval.
        interval_secs: u64,
        /// What the vault showed.
        missing: String,
    },
    /// The monitor's last checkpoint, signed at `time`, covers the first `size` entries of the
    /// chain as it is.
    Checked {
        /// The monitor's interval.
        interval_secs: u64,
        /// When the monitor signed it.
        time: u64,
        /// Entries it covers.
        size: u64,
        /// When the first entry after them was logged, if there is one.
        oldest_uncovered: Option<u64>,
    },
}

pub use crate::vault::CLOCK_SKEW_SECS;

impl MonitorSeen {
    /// Why entries after the monitor's checkpoint are unprotected at `now`, if they are: its
    /// checkpoint is missing or older than its interval plus [`CLOCK_SKEW_SECS`] (the monitor
    /// stopped, or the vault withholds its checkpoints), or an entry it does not cover is that
    /// old. `None` when there is no monitor or it is current.
    pub fn stale(&self, now: u64) -> Option<String> {
        match self {
            MonitorSeen::None => None,
            MonitorSeen::Missing { interval_secs, missing } => Some(format!(
                "the audit monitor (every {}) has no checkpoint here: {missing}",
                crate::format::duration(*interval_secs)
            )),
            MonitorSeen::Checked { interval_secs, time, size, oldest_uncovered } => {
                let limit = |t: u64| t.saturating_add(*interval_secs).saturating_add(CLOCK_SKEW_SECS);
                // The allowed skew also absorbs a scheduled run that is a little late.
                if now > limit(*time) {
                    Some(format!(
                        "the audit monitor's last checkpoint ({size} entries) was signed {} ago, more than its interval of {}: it stopped, or the vault withholds its newer checkpoints",
                        crate::format::duration(now - time),
                        crate::format::duration(*interval_secs)
                    ))
                } else {
                    oldest_uncovered.filter(|t| now > limit(*t)).map(|t| {
                        format!(
                            "entry {} of the audit log, logged {} ago, is under no monitor checkpoint although the monitor signed within its interval: the vault is showing the monitor an older log",
                            size + 1,
                            crate::format::duration(now.saturating_sub(t))
                        )
                    })
                }
            }
        }
    }
}

/// What [`check_chain`] found: the chain's size and head, and its newest manifest.
pub(crate) struct ChainCheck {
    pub size: u64,
    pub head: [u8; 32],
    /// Manifests verified.
    pub manifests: u64,
    /// The newest manifest in the chain (since the tenant's last deletion), and its hash.
    pub last: Option<(Manifest, [u8; 32])>,
}

/// Where a check of a chain starts: its first entry, or a checkpoint signed before.
#[derive(Debug, Clone)]
pub(crate) enum Start {
    /// The whole chain, from its first entry.
    First,
    /// The entries from position `from` on (at most the mark's position), after a checkpoint
    /// the same signer made at the mark, whose last manifest was `manifest` (with its hash):
    /// what came before the mark was checked when that checkpoint was signed.
    Checkpoint {
        /// The position of the first entry given.
        from: u64,
        /// The newest manifest the checkpoint covered: its sequence number and hash.
        manifest: (u64, [u8; 32]),
        /// That manifest itself, verified, if it is still the tenant's current one.
        current: Option<Box<Manifest>>,
    },
}

/// Checks `tenant`'s chain in `entries` for whoever signs checkpoints (the customer or its
/// monitor): consistent from its first entry (or from where `start` says); still holding, at
/// position `mark.seq`, the entry `mark` named (nothing before it rewritten, reordered,
/// dropped or cut back); every manifest since the tenant's last deletion (or since the mark)
/// signed by `signer`, each following the one before; every approval matched to a grant
/// `signer` signed for that request.
pub(crate) fn check_chain(
    vault: &Vault,
    tenant: &str,
    entries: &[crate::audit::Entry],
    start: Start,
    signer: &[u8; 32],
    mark: ManifestMark,
    whose: &str,
) -> Result<ChainCheck, Error> {
    let broken = |why: String| Error::integrity(format!("the audit log of tenant {tenant:?} {why}"));
    let from = match &start {
        Start::First => 1,
        Start::Checkpoint { from, .. } => *from,
    };
    // A check from a checkpoint starts at or before the checkpoint's last entry.
    if from == 0 || (from > 1 && (mark.seq == 0 || from > mark.seq)) {
        return Err(Error::other(format!(
            "a check of tenant {tenant:?}'s audit log was asked to start at entry {from}, past its checkpoint at {}",
            mark.seq
        )));
    }
    let ours: Vec<&crate::audit::Entry> = entries.iter().filter(|e| e.tenant == tenant).collect();
    let (size, head) = match verify_tenant_from(&ours, tenant, from) {
        Verdict::Intact { count, head } => (count, head),
        Verdict::Broken { seq, why } => return Err(broken(format!("is broken at its entry {seq}: {why}"))),
    };
    // The entry at position `n` (from `from` on).
    let at = |n: u64| ours[(n - from) as usize];
    if mark.seq > size {
        return Err(broken(format!(
            "has {size} entries, fewer than the {} {whose} last checkpoint covered: it was cut back",
            mark.seq
        )));
    }
    if mark.seq > 0 && at(mark.seq).hash != mark.hash {
        return Err(broken(format!(
            "no longer holds, at entry {}, the entry {whose} last checkpoint named: it was rewritten before the checkpoint",
            mark.seq
        )));
    }
    // What this check judges: after the last deletion (from the first entry), or after the
    // mark (from a checkpoint: what came before it was judged when it was signed).
    let (judged, before, mut expected, mut last) = match start {
        Start::First => {
            // A tenant deleted and created again keeps its chain; its manifests and grants
            // start over after the last deletion, under the new tenant key.
            let current =
                ours.iter().rposition(|e| matches!(e.event, Event::TenantDelete { .. })).map_or(0, |i| i + 1);
            // The deletion entry is the operator's to write: one planted before copies of the
            // genuine manifests would hide everything before it from these checks. A tenant
            // created again has a new key, so its manifests never repeat one logged before it.
            let before: std::collections::BTreeSet<[u8; 32]> =
                ours[..current].iter().filter_map(|e| e.manifest_note().map(manifest_hash)).collect();
            (&ours[current..], before, (1u64, [0u8; 32]), None)
        }
        Start::Checkpoint { manifest: (seq, hash), current, .. } => {
            let after = &ours[(mark.seq + 1 - from) as usize..];
            // A deletion after a checkpoint this keyring signed: judged from the first entry.
            if after.iter().any(|e| matches!(e.event, Event::TenantDelete { .. })) {
                return Err(broken("has a tenant deletion after the last checkpoint".into()));
            }
            (after, Default::default(), (seq + 1, hash), current.map(|m| (*m, hash)))
        }
    };
    let mut manifests = 0;
    for (e, note) in judged.iter().filter_map(|e| Some((*e, e.manifest_note()?))) {
        let hash = manifest_hash(note);
        if before.contains(&hash) {
            return Err(broken(format!(
                "entry {}: a manifest logged before the tenant's deletion appears again after it: the deletion entry was planted",
                e.chain
            )));
        }
        let m = open_manifest(note, &vault.id(), tenant, signer)
            .map_err(|err| broken(format!("entry {}: {}", e.chain, err.message)))?;
        // A manifest is committed moments after it is signed. One logged after the entries the
        // last checkpoint covered, but signed (by its own signed `issued`) well before the last
        // of them was logged, was withheld from the chain while that checkpoint was signed: the
        // operator hid it (from the monitor, say) and put it back later.
        if mark.seq > 0 && e.chain > mark.seq && m.issued.saturating_add(CLOCK_SKEW_SECS) < at(mark.seq).time
        {
            return Err(broken(format!(
                "entry {}: manifest {} was signed at {}, before entry {} (logged at {}) which {whose} last checkpoint covered, yet it is logged after it: it was withheld from the log and put back",
                e.chain,
                m.seq,
                crate::format::rfc3339(m.issued),
                mark.seq,
                crate::format::rfc3339(at(mark.seq).time)
            )));
        }
        // The sequence number may jump forward only where the customer accepted a restored
        // vault: that manifest still names its predecessor, and only the customer signs.
        if m.seq < expected.0 || m.prev != expected.1 {
            return Err(broken(format!(
                "entry {}: manifest {} does not follow the one before it",
                e.chain, m.seq
            )));
        }
        expected = (m.seq + 1, hash);
        last = Some((m, hash));
        manifests += 1;
    }
    for e in judged {
        let Event::RequestApprove { grant, .. } = &e.event else { continue };
        let grant = crate::format::hex(grant);
        let not_signed =
            || broken(format!("entry {}: grant {grant:?} is not one the tenant key signed", e.chain));
        let (record, _) = Workflow::new(vault)
            .grant(&grant)
            .map_err(|err| broken(format!("entry {}: {}", e.chain, err.message)))?;
        let note = SignedNote::decode(&record.note)
            .ok()
            .filter(|n| verify_note(n, &origin(&vault.id(), tenant), signer).is_ok())
            .and_then(|n| GrantNote::decode(&n.body).ok())
            .ok_or_else(not_signed)?;
        if crate::format::hex(&note.grant) != grant || crate::format::hex(&note.request) != e.subject {
            return Err(not_signed());
        }
    }
    Ok(ChainCheck { size, head, manifests, last })
}

/// The monitor's last checkpoint as the vault shows it, checked against the chain `entries`:
/// one that verifies under the monitor key but names entries the chain no longer holds is
/// proof the log was cut back or rewritten after the monitor signed (an error).
fn monitor_seen(
    vault: &Vault,
    tenant: &str,
    (entries, from): (&[crate::audit::Entry], u64),
    manifest: Option<&Manifest>,
    note: Option<String>,
) -> Result<MonitorSeen, Error> {
    let Some(monitor) = manifest.and_then(|m| m.monitor) else { return Ok(MonitorSeen::None) };
    let interval_secs = monitor.interval_secs;
    let missing = |why: String| Ok(MonitorSeen::Missing { interval_secs, missing: why });
    let Some(note) = note else {
        return missing("the vault holds none".into());
    };
    // Signed by another key (an earlier monitor, or forged): as good as none.
    let c = match open_checkpoint(&note, &vault.id(), tenant, &monitor.public) {
        Ok(c) => c,
        Err(e) => return missing(e.message),
    };
    let ours: Vec<_> = entries.iter().filter(|e| e.tenant == tenant).collect();
    let broken = |why: String| Error::integrity(format!("the audit log of tenant {tenant:?} {why}"));
    // The entries were read from where this checkpoint's size says (or earlier): from its
    // last entry, or from the first when it covers none.
    if (c.size > 0 && c.size < from) || (c.size == 0 && from != 1) {
        return missing(format!("it covers {} entries, fewer than were read", c.size));
    }
    // The entries after position `n`, and the one at `n`.
    let skip = (c.size + 1 - from) as usize;
    let size = from - 1 + ours.len() as u64;
    if c.size > size || (c.size > 0 && ours[skip - 1].hash != c.head) {
        return Err(broken(format!(
            "no longer holds the {} entries its monitor's checkpoint covered (signed at {}): it was cut back or rewritten after the monitor signed",
            c.size,
            crate::format::rfc3339(c.time)
        )));
    }
    if c.time > vault.now().saturating_add(CLOCK_SKEW_SECS) {
        return Err(broken(format!(
            "has a monitor checkpoint signed in the future ({}): the monitor's clock is wrong, or the checkpoint is not what it seems",
            crate::format::rfc3339(c.time)
        )));
    }
    // An entry the monitor did not cover but that was logged before it signed was hidden from
    // it: the vault showed the monitor an older log.
    if let Some(e) = ours[skip..].iter().find(|e| e.time.saturating_add(CLOCK_SKEW_SECS) < c.time) {
        return Err(broken(format!(
            "entry {}, logged at {}, is not under the monitor's checkpoint signed later at {}: the vault hid it from the monitor",
            e.chain,
            crate::format::rfc3339(e.time),
            crate::format::rfc3339(c.time)
        )));
    }
    let oldest_uncovered = ours.get(skip).map(|e| e.time);
    Ok(MonitorSeen::Checked { interval_secs, time: c.time, size: c.size, oldest_uncovered })
}

/// Checks `tenant`'s audit chain against `keyring` (nothing is signed). Any disagreement is an
/// integrity error naming it. Reads only the entries after the keyring's last checkpoint (and
/// those the monitor's last checkpoint needs) when the vault still holds that checkpoint as
/// the keyring signed it; the whole chain otherwise.
pub fn check_audit(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<AuditCheck, Error> {
    match check_since_checkpoint(vault, keyring, tenant)? {
        Some(check) => Ok(check),
        None => checked_entries(vault, keyring, tenant).map(|(check, _)| check),
    }
}

/// [`check_audit`] of the whole chain, also returning the entries it checked (what
/// [`check_items`] reads: the log is read once, so a vault cannot show the check one log and
/// the replay another).
pub fn checked_entries(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
) -> Result<(AuditCheck, Vec<crate::audit::Entry>), Error> {
    let (check, entries, _) = checked_with_headers(vault, keyring, tenant)?;
    Ok((check, entries))
}

/// [`checked_entries`], with the stored headers of the tenant's items read from the same
/// snapshot as the entries (what [`check_items_against`] needs to find nothing amiss while
/// others write).
pub(crate) fn checked_with_headers(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
) -> Result<(AuditCheck, Vec<crate::audit::Entry>, Vec<crate::vault::StoredHeader>), Error> {
    // The monitor's checkpoint first: read after the entries, it could cover entries written
    // in between and look like a log cut back.
    let monitor_note = vault.monitor_checkpoint(tenant)?;
    let (entries, headers) = vault.audit_and_headers(tenant)?;
    let check = judged(vault, keyring, tenant, (&entries, 1), Start::First, monitor_note)?;
    Ok((check, entries, headers))
}

/// The chain from the keyring's last checkpoint on, if the vault holds that checkpoint as the
/// keyring signed it and it names its newest manifest (`None`: check the whole chain).
fn check_since_checkpoint(
    vault: &Vault,
    keyring: &Keyring,
    tenant: &str,
) -> Result<Option<AuditCheck>, Error> {
    let keys = tenant_keys(keyring, vault, tenant)?;
    let (mark, signer) = (keys.checkpoint, keys.signing().public());
    if mark.seq == 0 {
        return Ok(None);
    }
    let record = vault.tenant(tenant)?;
    let Ok(c) = open_checkpoint(&record.checkpoint, &vault.id(), tenant, &signer) else { return Ok(None) };
    let Some((seq, hash)) = c.manifest.filter(|_| (c.size, c.head) == (mark.seq, mark.hash)) else {
        return Ok(None);
    };
    let current = (manifest_hash(&record.manifest) == hash)
        .then(|| open_manifest(&record.manifest, &vault.id(), tenant, &signer))
        .transpose()?
        .map(Box::new);
    // Where the monitor's checkpoint (unverified here, only a hint of where to read from)
    // says it ends: its check needs the entries after it.
    let monitor_note = vault.monitor_checkpoint(tenant)?;
    let hinted = monitor_note
        .as_deref()
        .and_then(|n| SignedNote::decode(n).ok())
        .and_then(|n| Checkpoint::decode(&n.body).ok())
        .map(|c| c.size);
    let from = hinted.map_or(mark.seq, |size| size.min(mark.seq)).max(1);
    // An index that names entries the log does not hold, or starts elsewhere: the whole
    // chain says what happened.
    let Ok(Some(entries)) = vault.tenant_audit_from(tenant, from) else { return Ok(None) };
    if entries.first().map(|e| e.chain) != Some(from) {
        return Ok(None);
    }
    // A deletion since: the whole chain says what came of it.
    if entries.iter().any(|e| e.chain > mark.seq && matches!(e.event, Event::TenantDelete { .. })) {
        return Ok(None);
    }
    // With no newer manifest logged, the current one must be the checkpoint's.
    let newer = entries.iter().any(|e| e.chain > mark.seq && e.manifest_note().is_some());
    if current.is_none() && !newer {
        return Ok(None);
    }
    let start = Start::Checkpoint { from, manifest: (seq, hash), current };
    judged(vault, keyring, tenant, (&entries, from), start, monitor_note).map(Some)
}

/// The keyring's judgement of the chain in `entries` (from position `from`): [`check_chain`],
/// then the newest manifest must be the one the keyring signed last, and the monitor's last
/// checkpoint (`monitor_note`) must agree with the chain.
fn judged(
    vault: &Vault,
    keyring: &Keyring,
    tenant: &str,
    (entries, from): (&[crate::audit::Entry], u64),
    start: Start,
    monitor_note: Option<String>,
) -> Result<AuditCheck, Error> {
    let keys = tenant_keys(keyring, vault, tenant)?;
    let mark = keys.checkpoint;
    let chain = check_chain(vault, tenant, entries, start, &keys.signing().public(), mark, "this keyring's")?;
    let last_hash = chain.last.as_ref().map_or([0; 32], |(_, h)| *h);
    if keys.last.seq != 0 && last_hash != keys.last.hash {
        return Err(Error::integrity(format!(
            "the audit log of tenant {tenant:?} does not end with the manifest this keyring signed last"
        )));
    }
    // The newest logged manifest is the keyring's own (just checked): its monitor is trusted.
    let newest = chain.last.as_ref().map(|(m, _)| m);
    let monitor = monitor_seen(vault, tenant, (entries, from), newest, monitor_note)?;
    Ok(AuditCheck {
        size: chain.size,
        head: chain.head,
        checkpointed: mark.seq,
        manifests: chain.manifests,
        manifest: chain.last.as_ref().map(|(m, h)| (m.seq, *h)),
        monitor,
    })
}

/// [`check_audit`], then signs a checkpoint of the chain as it is, commits it to the vault and
/// remembers it in the keyring, saved.
pub fn checkpoint(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<AuditCheck, Error> {
    let check = sign_checkpoint(vault, keyring, tenant)?;
    keyring.save()?;
    Ok(check)
}

/// [`checkpoint`], remembered in the keyring in memory only: for a change whose own save (of
/// its new keys, before anything is registered) comes next, so a change saves the keyring
/// once. Not saved, it costs only speed: the next check reads the whole chain once.
pub(crate) fn sign_checkpoint(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
) -> Result<AuditCheck, Error> {
    let check = check_audit(vault, keyring, tenant)?;
    let c = Checkpoint {
        origin: origin(&vault.id(), tenant),
        size: check.size,
        head: check.head,
        time: vault.now(),
        // The newest manifest it covers: where the next check can start from.
        manifest: check.manifest,
    };
    let keys = tenant_keys(keyring, vault, tenant)?;
    let note = sign_note(keys.signing(), &c.origin, c.encode()).encode();
    vault.commit_checkpoint(tenant, &note)?;
    tenant_keys_mut(keyring, vault, tenant)?.checkpoint = ManifestMark { seq: c.size, hash: c.head };
    Ok(check)
}

/// What `verify --keyring` finds between the tenant's items and the writes its audit chain
/// logged (each put, import and rewrap names the hash of the header it stored; rm and tenant
/// deletion remove): an item replaced or rolled back since its last logged write, an item
/// with no logged write, a logged item missing, a write that names another manifest than the
/// last one logged before it (an entry moved across a manifest), and an item wrapped to a key
/// epoch that a manifest logged before its write had already released, or to a key no
/// manifest named. The level, key epoch and key of a write are read from the stored header
/// whose hash the entry pins, never from the entry's text. Run after [`check_audit`]: the log
/// is only as good as the checkpoint that covers it.
pub fn check_items(
    vault: &Vault,
    tenant: &str,
    entries: &[crate::audit::Entry],
) -> Result<Vec<String>, Error> {
    Ok(check_items_against(tenant, entries, vault.stored_headers(tenant)?))
}

/// [`check_items`] against `headers` (read from the same snapshot as `entries`).
pub(crate) fn check_items_against(
    tenant: &str,
    entries: &[crate::audit::Entry],
    headers: Vec<crate::vault::StoredHeader>,
) -> Vec<String> {
    // Per item: the header hash its last logged write pinned, that entry's position, and what
    // had been released when it was written (an index into `releases`).
    let mut expected: BTreeMap<String, ([u8; 32], u64, usize)> = BTreeMap::new();
    let mut releases: Vec<BTreeMap<String, Vec<u32>>> = vec![BTreeMap::new()];
    // Every level key a manifest of this tenant named: (level, epoch) -> public key.
    let mut named: BTreeMap<(String, u32), [u8; 32]> = BTreeMap::new();
    let mut last_manifest: Option<[u8; 32]> = None;
    let mut problems = Vec::new();
    for e in entries.iter().filter(|e| e.tenant == tenant) {
        let released = releases.len() - 1;
        let mut wrote = |manifest: &[u8; 32]| {
            if last_manifest != Some(*manifest) {
                problems.push(format!(
                    "tenant {tenant:?}: audit entry {} names manifest {}, not the last one logged before it: the entry was moved across a manifest or rewritten",
                    e.chain,
                    crate::format::hex(manifest)
                ));
            }
        };
        match &e.event {
            Event::Put(w) | Event::PutRaw(w) => {
                wrote(&w.manifest);
                expected.insert(e.subject.clone(), (w.header, e.chain, released));
            }
            Event::Import { manifest, .. } => wrote(manifest),
            Event::Rm => {
                expected.remove(&e.subject);
            }
            Event::TenantDelete { .. } => {
                expected.clear();
                named.clear();
                last_manifest = None;
                releases.push(BTreeMap::new());
            }
            Event::Manifest { note } => {
                if let Some(m) = SignedNote::decode(note).ok().and_then(|n| Manifest::decode(&n.body).ok()) {
                    for l in &m.levels {
                        named.insert((l.name.clone(), l.epoch), l.public);
                    }
                    releases.push(m.levels.into_iter().map(|l| (l.name, l.released)).collect());
                }
                last_manifest = Some(manifest_hash(note));
            }
            _ => {}
        }
        // Imports and rotations (and their continuations) pin each item they stored.
        for l in e.event.logged_items() {
            expected.insert(l.item.clone(), (l.header, e.chain, released));
        }
    }
    for (id, hash, header) in headers {
        match expected.remove(&id) {
            Some((logged, chain, released)) if logged == hash => {
                let Some(h) = header else { continue };
                let fp = |p: &[u8; 32]| crate::crypto::fingerprint(p);
                match named.get(&(h.level.clone(), h.key_epoch)) {
                    Some(public) if fp(public) == h.fingerprint => {}
                    _ => problems.push(format!(
                        "tenant {tenant:?}: item {id:?} (audit entry {chain}) is wrapped to a key of level {:?} epoch {} that no manifest of the tenant named",
                        h.level, h.key_epoch
                    )),
                }
                if releases[released].get(&h.level).is_some_and(|r| r.contains(&h.key_epoch)) {
                    problems.push(format!(
                        "tenant {tenant:?}: audit entry {chain} wrote item {id:?} at level {:?} epoch {}, after a manifest had released that epoch to an engineer",
                        h.level, h.key_epoch
                    ));
                }
            }
            Some((_, chain, _)) => problems.push(format!(
                "tenant {tenant:?}: item {id:?} is not what audit entry {chain} logged writing: it was replaced or rolled back outside lockbox"
            )),
            None => problems.push(format!("tenant {tenant:?}: item {id:?} has no logged write: it was put there outside lockbox")),
        }
    }
    for (id, (_, chain, _)) in expected {
        problems.push(format!(
            "tenant {tenant:?}: item {id:?}, written by audit entry {chain}, is missing with no logged removal"
        ));
    }
    problems
}
