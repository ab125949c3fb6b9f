//! What a server sends a client as a tenant's state (`GET /v1/tenants/{t}/state`): any bytes
//! are refused with an error or loaded into a read-only copy whose every read the client
//! makes is an answer or an error, never a panic.
#![no_main]
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use lockbox::lockbox::Workflow;
use lockbox::store::MemoryStore;
use lockbox::vault::{Error, Op, TenantState, Upstream, Vault};

/// A server that takes no commit and has nothing more to show.
struct Silent;

impl Upstream for Silent {
    fn commit(&self, _: &str, _: Op, _: serde_json::Value) -> Result<serde_json::Value, Error> {
        Err(Error::other("no server here"))
    }

    fn widen(&self, _: &str, _: u64, _: bool) -> Result<(), Error> {
        Ok(())
    }

    fn tenant(&self) -> String {
        "acme".into()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(state) = serde_json::from_slice::<TenantState>(data) else { return };
    let Ok(rows) = state.rows() else { return };
    let store = Arc::new(MemoryStore::mirror(rows));
    let Ok(vault) = Vault::mirror(store, "https://server.example/", Arc::new(Silent)) else { return };
    let flow = Workflow::new(&vault);
    let _ = vault.tenant("acme");
    let _ = vault.monitor_checkpoint("acme");
    let _ = vault.audit_entries(Some("acme"));
    let _ = vault.tenant_audit_from("acme", 1);
    let _ = vault.list("acme", None);
    let _ = flow.requests(Some("acme"), None);
    let _ = flow.grants(Some("acme"), None);
    let _ = flow.engineers();
    let _ = vault.sealing_epoch("acme", "internal");
});
