//! Approval, the customer's half: the request checked against the digest the engineer made
//! outside the vault, the engineer's key against the one pinned before, the released levels'
//! keys (every epoch up to the manifest's current one) wrapped to the engineer, each released
//! level rotated, and the grant signed with the tenant key.

use super::new_epoch;
use super::sync::{committed, levels_of, policy_of, propose, tenant_keys, tenant_keys_mut};
use super::synced;
use crate::crypto::{PublicKey, Purpose, Wrapper, fingerprint, random_array, sign_note};
use crate::format::{GrantKeyBlob, GrantKeyContext, GrantNote, hex, origin};
use crate::keyring::{KeyState, Keyring};
use crate::lockbox::Workflow;
use crate::lockbox::{Approval, Ask, Limits, blobs_hash, decide, id_hex, request_digest};
use crate::store::records::GrantRecord;
use crate::vault::Remedy;
use crate::vault::{Error, Vault};

/// What the customer checked before approving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The request digest the engineer gave outside the vault (the support case): the request
    /// and the engineer's key as the vault shows them must match it, or nothing is released.
    /// The only proof that pins an engineer's key in the keyring.
    EngineersDigest([u8; 32]),
    /// The customer read the request as the vault showed it and confirmed it; the digest of
    /// what was shown, so nothing changed since. It proves nothing about the engineer's key,
    /// so it approves only an engineer whose key this keyring pinned before, from a digest.
    Shown([u8; 32]),
}

/// Approves a pending request for `levels` (default: all requested) and `duration_secs`
/// (default: as requested; never more than requested or the tenant's maximum). See
/// [`prepare_approval`] for `confirmed`.
pub fn approve_request(
    vault: &Vault,
    keyring: &mut Keyring,
    id: &str,
    levels: Option<&[String]>,
    duration_secs: Option<u64>,
    confirmed: Confirmation,
) -> Result<GrantRecord, Error> {
    let (approval, proposal) = prepare(vault, keyring, id, levels, duration_secs, confirmed)?;
    let grant = Workflow::new(vault).commit_approval(&approval)?;
    committed(keyring, vault, &grant.tenant, &proposal)?;
    Ok(grant)
}

/// The digest of request `id` as the vault shows it now, with the engineer key the vault
/// shows: what [`Confirmation::Shown`] carries. Never the digest to compare with the
/// engineer's: it is the vault's own computation.
pub fn shown_digest(vault: &Vault, id: &str) -> Result<[u8; 32], Error> {
    let (request, _) = Workflow::new(vault).request(id)?;
    let engineer = Workflow::new(vault).engineer(&request.engineer)?;
    request_digest(&vault.id(), &request, &engineer.public)
}

/// Whether `keyring` pinned engineer `name` for `tenant` (by an earlier digest-checked
/// approval or `engineer trust`): if not, only the engineer's digest approves.
pub fn engineer_pinned(keyring: &Keyring, vault: &Vault, tenant: &str, name: &str) -> bool {
    keyring.for_vault(vault.id()).tenant(tenant).is_some_and(|keys| keys.engineer(name).is_some())
}

/// The customer's half of [`approve_request`]: the grant's key blobs wrapped, the released
/// levels' next keys and the next manifest saved in the keyring; nothing in the vault changes.
///
/// `id` must be the full request id. The request's digest (over what the vault shows now,
/// including the engineer's key) must equal the one `confirmed` carries, or nothing is
/// released: with the engineer's digest, this is what stops an operator who swapped the
/// engineer's key or edited the request. A [`Confirmation::Shown`] approves only an engineer
/// whose key the keyring pinned before.
pub fn prepare_approval(
    vault: &Vault,
    keyring: &mut Keyring,
    id: &str,
    levels: Option<&[String]>,
    duration_secs: Option<u64>,
    confirmed: Confirmation,
) -> Result<Approval, Error> {
    prepare(vault, keyring, id, levels, duration_secs, confirmed).map(|(a, _)| a)
}

fn prepare(
    vault: &Vault,
    keyring: &mut Keyring,
    id: &str,
    levels: Option<&[String]>,
    duration_secs: Option<u64>,
    confirmed: Confirmation,
) -> Result<(Approval, super::sync::Proposal), Error> {
    if id.len() != 32 {
        return Err(Error::usage(format!("an approval names the full 32-digit request id, not {id:?}"))
            .with_remedy(Remedy::FullRequestId));
    }
    let (request, status) = Workflow::new(vault).request(id)?;
    let engineer = Workflow::new(vault).engineer(&request.engineer)?;
    let digest = request_digest(&vault.id(), &request, &engineer.public)?;
    let (expected, from_engineer) = match confirmed {
        Confirmation::EngineersDigest(d) => (d, true),
        Confirmation::Shown(d) => (d, false),
    };
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&digest[..], &expected[..])) {
        let what = if from_engineer { "the digest the engineer gave" } else { "what you were shown" };
        return Err(Error::integrity(format!(
            "request {} does not match {what}: the request or the engineer's key was changed after the engineer made it; nothing was released",
            id_hex(&request.id),
        )));
    }
    let synced = synced(vault, keyring, &request.tenant)?;
    let tenant = &request.tenant;
    let keys = tenant_keys(keyring, vault, tenant)?;
    if !from_engineer && keys.engineer(&engineer.name).is_none() {
        return Err(Error::denied(format!(
            "access denied: engineer {:?} has no key pinned in this keyring, so the approval needs the request digest the engineer gave outside the vault; nothing was released",
            engineer.name
        )));
    }
    if let Some(pinned) = keys.engineer(&engineer.name)
        && *pinned != engineer.public
    {
        return Err(Error::integrity(format!(
            "engineer {:?}'s key is now {}, not {} as pinned by an earlier approval: nothing was released",
            engineer.name,
            hex(&fingerprint(&engineer.public)),
            hex(&fingerprint(pinned)),
        ))
        .with_remedy(Remedy::TrustEngineer { tenant: tenant.clone(), engineer: engineer.name.clone() }));
    }
    // Judged by the policy the customer signed, not by the vault's copy of it.
    let limits = Limits { tenant, max_access_secs: policy_of(&synced).max_access_secs };
    let terms = decide(&request, status, vault.actor(), limits, Ask { levels, duration_secs })?;
    let (released, duration) = (terms.levels, terms.duration_secs);
    let time = vault.now();
    let mut grant = GrantRecord {
        id: random_array()?,
        request: request.id,
        tenant: tenant.clone(),
        engineer: engineer.name.clone(),
        levels: Vec::new(),
        created: time,
        expires: time.saturating_add(duration),
        approved_by: vault.actor().to_owned(),
        revoked: None,
        keys: Vec::new(),
        note: String::new(),
    };
    let mut stated = Vec::new();
    let mut manifest_levels = levels_of(&synced);
    let wrapper = Wrapper::new(&PublicKey(engineer.public))?;
    for level in &released {
        let entry = manifest_levels
            .iter_mut()
            .find(|l| &l.name == level)
            .ok_or_else(|| Error::not_found(format!("tenant {tenant:?} has no level {level:?}")))?;
        let current = entry.epoch;
        for epoch in 1..=current {
            let Some(key) = tenant_keys(keyring, vault, tenant)?.key(level, epoch) else { continue };
            let level_fp = key.public().fingerprint();
            let context = GrantKeyContext {
                grant_id: grant.id,
                tenant: tenant.clone(),
                level: level.clone(),
                epoch,
                engineer: grant.engineer.clone(),
                expires: grant.expires,
                engineer_fingerprint: fingerprint(&engineer.public),
                level_fingerprint: level_fp,
            };
            let wrapped = wrapper.wrap(
                Purpose::GrantKey,
                &context.encode().map_err(Error::encoding)?,
                &key.to_bytes(),
            )?;
            grant.keys.push(
                GrantKeyBlob { context, ephemeral: wrapped.ephemeral, wrapped: wrapped.ciphertext }
                    .encode()
                    .map_err(Error::encoding)?,
            );
            stated.push((level.clone(), epoch, level_fp));
            tenant_keys_mut(keyring, vault, tenant)?.set_state(level, epoch, KeyState::Released);
            if !entry.released.contains(&epoch) {
                entry.released.push(epoch);
            }
        }
        entry.released.sort_unstable();
        let next = current
            .checked_add(1)
            .ok_or_else(|| Error::conflict(format!("level {level:?} has run out of epochs")))?;
        grant.levels.push((level.clone(), current));
        let new = new_epoch(keyring, vault, tenant, level, next)?;
        entry.epoch = next;
        entry.public = new.public;
    }
    let new_epochs = grant
        .levels
        .iter()
        .map(|(level, _)| {
            let e = manifest_levels.iter().find(|l| &l.name == level).map(|l| (l.epoch, l.public));
            e.map(|(epoch, public)| crate::vault::NewEpoch { level: level.clone(), epoch, public })
                .ok_or_else(|| Error::other("a released level vanished"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    // Only the engineer's own digest proves the key: a shown confirmation reaches here only for
    // an engineer already pinned to this very key (checked above), so this changes nothing then.
    tenant_keys_mut(keyring, vault, tenant)?.pin_engineer(&engineer.name, engineer.public);
    // Saves the keyring, once: the released marks, the pin and the new pending keys are durable
    // before any blob or public key leaves this function.
    let proposal = propose(vault, keyring, tenant, Some(&synced), manifest_levels, policy_of(&synced))?;
    stated.sort();
    let note = GrantNote {
        origin: origin(&vault.id(), tenant),
        grant: grant.id,
        request: request.id,
        digest,
        engineer: engineer.name.clone(),
        engineer_fingerprint: fingerprint(&engineer.public),
        not_after: grant.expires,
        manifest_before: synced.hash,
        manifest_after: crate::vault::manifest_hash(&proposal.note),
        keys: stated,
        blobs: blobs_hash(&grant.keys),
    };
    let signing = tenant_keys(keyring, vault, tenant)?.signing();
    grant.note = sign_note(signing, &note.origin, note.encode()).encode();
    let approval =
        Approval { grant, engineer_public: engineer.public, new_epochs, manifest: proposal.note.clone() };
    Ok((approval, proposal))
}

/// Re-pins engineer `name` for `tenant` in `keyring` to the key the vault shows now, which must
/// have `expected` as fingerprint (as the engineer gave it, outside the vault).
pub fn trust_engineer(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    name: &str,
    expected: &[u8; 16],
) -> Result<(), Error> {
    synced(vault, keyring, tenant)?;
    let engineer = Workflow::new(vault).engineer(name)?;
    let shown = fingerprint(&engineer.public);
    if &shown != expected {
        return Err(Error::integrity(format!(
            "the vault shows engineer {name:?} with key {}, not {}: nothing was pinned",
            hex(&shown),
            hex(expected)
        )));
    }
    tenant_keys_mut(keyring, vault, tenant)?.pin_engineer(name, engineer.public);
    keyring.save()?;
    Ok(())
}
