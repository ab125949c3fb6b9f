//! Dynamic shell completion: tenant, level, item, request and grant names come from the vault
//! (LOCKBOX_VAULT, or the per-user default), read when the shell asks. Register it with
//! `source <(LOCKBOX_COMPLETE=bash lockbox)` (zsh, fish, elvish, powershell likewise). A vault that
//! cannot be opened (missing, in use) completes nothing: completion never prompts or fails.

use std::ffi::OsStr;

use clap_complete::engine::CompletionCandidate;
use lockbox::lockbox::Workflow;
use lockbox::vault::Vault;

/// Most candidates offered at once (a vault can hold millions of items).
const MAX_CANDIDATES: usize = 1000;

fn vault() -> Option<Vault> {
    let dir = super::vault_dir(std::env::var_os("LOCKBOX_VAULT").map(Into::into)).ok()?;
    Vault::open(&dir).ok()
}

fn offer(current: &OsStr, names: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let mut names: Vec<String> = names.into_iter().filter(|n| n.starts_with(current.as_ref())).collect();
    names.sort();
    names.dedup();
    names.into_iter().take(MAX_CANDIDATES).map(CompletionCandidate::new).collect()
}

/// Tenant names.
pub fn tenants(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(v) = vault() else { return Vec::new() };
    offer(current, v.tenants().unwrap_or_default().into_iter().map(|t| t.name))
}

/// Level names of every tenant (the tenant typed before is not known here).
pub fn levels(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(v) = vault() else { return Vec::new() };
    let tenants = v.tenants().unwrap_or_default();
    offer(current, tenants.into_iter().flat_map(|t| t.levels.into_iter().map(|l| l.name)))
}

/// Item ids of every tenant.
pub fn items(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(v) = vault() else { return Vec::new() };
    let prefix = current.to_string_lossy().into_owned();
    let filter = lockbox::vault::ItemFilter { level: None, prefix: Some(prefix) };
    let ids = v
        .tenants()
        .unwrap_or_default()
        .into_iter()
        .flat_map(|t| v.list_where(&t.name, &filter).unwrap_or_default().into_iter().map(|i| i.item));
    offer(current, ids.collect::<Vec<_>>())
}

/// Request ids, pending first in the shell's eyes (all are offered).
pub fn requests(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(v) = vault() else { return Vec::new() };
    let ids = Workflow::new(&v)
        .requests(None, None)
        .unwrap_or_default()
        .into_iter()
        .map(|(r, _)| lockbox::lockbox::id_hex(&r.id));
    offer(current, ids.collect::<Vec<_>>())
}

/// Grant ids.
pub fn grants(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(v) = vault() else { return Vec::new() };
    let ids = Workflow::new(&v)
        .grants(None, None)
        .unwrap_or_default()
        .into_iter()
        .map(|(g, _)| lockbox::lockbox::id_hex(&g.id));
    offer(current, ids.collect::<Vec<_>>())
}
