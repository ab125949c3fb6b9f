//! The world the attacks run in: the customer, a writer, the engineer eve and the operator, each
//! with what they hold, and the operator's tools (the store API, the database file).

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use lockbox::crypto::tenant_fingerprint;
use lockbox::customer::Confirmation;
use lockbox::format::Header;
use lockbox::keyring::{Identity, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex, request_digest};
use lockbox::store::raw::{RawWrite, Table};
use lockbox::store::records::{GrantRecord, TenantRecord};
use lockbox::store::{RedbStore, Store, Writes};
use lockbox::trust::Pins;
use lockbox::vault::{Caller, DB_FILE, ErrorKind, PutOptions, Vault};

use crate::kit::CHEAP;
use lockbox::lockbox::Workflow;

/// Three parties on their own machines: the customer (keyring, and the trust store of the
/// machine that created the tenant), a writer and the engineer eve (each with their own trust
/// store, pinned from the fingerprint the customer gave them), and the operator (the store).
pub struct World {
    pub dir: tempfile::TempDir,
    pub vault: Option<Vault>,
    pub keyring: Keyring,
    pub eve: Identity,
    pub customer_pins: Arc<Pins>,
    pub writer_pins: Arc<Pins>,
    pub eve_pins: Arc<Pins>,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = Vault::init(&dir.path().join("vault")).unwrap();
        vault.set_actor("alice");
        let pass = Passphrase::new("pw".into());
        let mut keyring = Keyring::create(&dir.path().join("acme.keyring"), &pass, CHEAP).unwrap();
        let levels: Vec<String> = ["internal", "secret"].map(String::from).to_vec();
        let record = lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &levels).unwrap();
        Workflow::new(&vault).enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap();
        let eve = Identity::open(&dir.path().join("eve.id"), &pass).unwrap();
        // The fingerprint travels outside the vault (the support case): the others pin it.
        let fp = tenant_fingerprint(&record.signer);
        let (writer_pins, eve_pins) = (Arc::new(Pins::in_memory()), Arc::new(Pins::in_memory()));
        writer_pins.pin(vault.place(), &vault.id(), "acme", fp).unwrap();
        eve_pins.pin(vault.place(), &vault.id(), "acme", fp).unwrap();
        let customer_pins = vault.pins().clone();
        World { dir, vault: Some(vault), keyring, eve, customer_pins, writer_pins, eve_pins }
    }

    pub fn vault(&self) -> &Vault {
        self.vault.as_ref().unwrap()
    }

    pub fn writer(&self) -> Vault {
        self.vault().with_pins(self.writer_pins.clone()).acting_as(Caller::new("writer"))
    }

    pub fn engineer(&self) -> Vault {
        self.vault().with_pins(self.eve_pins.clone()).acting_as(Caller::new("eve"))
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("vault").join(DB_FILE)
    }

    pub fn put(&self, item: &str, level: &str) -> Result<(), lockbox::vault::Error> {
        let opts = PutOptions { replace: true, ..Default::default() };
        self.writer().put("acme", item, level, &mut Cursor::new(item.as_bytes()), opts).map(|_| ())
    }

    /// Files a request as eve; returns its id and the digest eve's client computes from her
    /// own key (what she puts in the support case).
    pub fn request(&self, levels: &[&str], duration: u64) -> (String, [u8; 32]) {
        let levels: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
        let req = NewRequest {
            tenant: "acme",
            engineer: "eve",
            levels: &levels,
            reason: "disk full",
            case_id: "CS-1",
            duration_secs: Some(duration),
        };
        let record = Workflow::new(&self.engineer()).create_request(&req).unwrap();
        let digest = request_digest(&self.vault().id(), &record, &self.eve.secret.public().0).unwrap();
        (id_hex(&record.id), digest)
    }

    /// Approves with the digest eve gave (`Some`), or as a customer who only read what the
    /// vault showed and typed `yes` (`None`).
    pub fn approve(
        &mut self,
        id: &str,
        expect: Option<&[u8; 32]>,
    ) -> Result<GrantRecord, lockbox::vault::Error> {
        let vault = self.vault.as_ref().unwrap();
        let confirmed = match expect {
            Some(d) => Confirmation::EngineersDigest(*d),
            None => Confirmation::Shown(lockbox::customer::shown_digest(vault, id)?),
        };
        lockbox::customer::approve_request(vault, &mut self.keyring, id, None, None, confirmed)
    }

    pub fn engineer_get(&self, item: &str) -> Result<Vec<u8>, lockbox::vault::Error> {
        let vault = self.engineer();
        let keys = Workflow::new(&vault).engineer_keys(&self.eve, "acme")?;
        let mut out = Vec::new();
        vault.get("acme", item, &keys, &mut out).map(|_| out)
    }

    pub fn tenant(&self) -> TenantRecord {
        self.vault().tenant("acme").unwrap()
    }

    /// The operator at work: closes the vault, edits through the store API, reopens.
    pub fn operator(&mut self, f: impl FnOnce(&dyn Writes)) {
        drop(self.vault.take());
        let store = RedbStore::open(&self.db()).unwrap();
        let tx = store.begin_write().unwrap();
        f(&*tx);
        tx.commit().unwrap();
        drop(store);
        self.reopen();
    }

    pub fn reopen(&mut self) {
        let mut vault =
            Vault::open(&self.dir.path().join("vault")).unwrap().with_pins(self.customer_pins.clone());
        vault.set_actor("alice");
        self.vault = Some(vault);
    }

    pub fn item_header(&self, item: &str) -> Header {
        let mut raw = Vec::new();
        self.vault().get_raw("acme", item, &mut raw).unwrap();
        Header::decode(&raw[..Header::declared_len(&raw).unwrap()]).unwrap()
    }
}

pub fn integrity<T: std::fmt::Debug>(
    r: Result<T, lockbox::vault::Error>,
    needle: &str,
) -> lockbox::vault::Error {
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains(needle), "{needle:?} not in: {e}");
    e
}

impl World {
    /// Copies the database file aside (as a backup would keep it).
    pub fn snapshot(&mut self, name: &str) -> PathBuf {
        drop(self.vault.take());
        let copy = self.dir.path().join(name);
        std::fs::copy(self.db(), &copy).unwrap();
        self.reopen();
        copy
    }

    /// Puts a copied database file back in place.
    pub fn restore(&mut self, copy: &PathBuf) {
        drop(self.vault.take());
        std::fs::copy(copy, self.db()).unwrap();
        self.reopen();
    }
}

/// The operator rewrites the whole log consistently: `edit` changes the entries, then every
/// sequence number, link, tenant chain position and hash is recomputed, and the store's tenant
/// heads and chain index reset, exactly as someone holding the file and the code could.
pub fn rewrite_log(w: &mut World, edit: impl FnOnce(&mut Vec<lockbox::audit::Entry>)) {
    drop(w.vault.take());
    {
        let store = RedbStore::open(&w.db()).unwrap();
        let tx = store.begin_raw_write().unwrap();
        let mut entries = lockbox::audit::entries(&tx, None).unwrap();
        for e in &entries {
            tx.remove(Table::Audit, &e.seq.to_be_bytes()).unwrap();
            tx.remove(Table::Meta, &lockbox::store::raw::audit_chain_key(&e.tenant, e.chain)).unwrap();
        }
        edit(&mut entries);
        let mut prev = [0u8; 32];
        let mut heads: std::collections::BTreeMap<String, (u64, [u8; 32])> = Default::default();
        for (i, e) in entries.iter_mut().enumerate() {
            e.seq = i as u64 + 1;
            e.prev = prev;
            if e.tenant.is_empty() {
                (e.chain, e.chain_prev) = (0, [0; 32]);
            } else {
                let (n, h) = heads.get(&e.tenant).copied().unwrap_or((0, [0; 32]));
                (e.chain, e.chain_prev) = (n + 1, h);
            }
            e.hash = e.compute_hash().unwrap();
            prev = e.hash;
            if !e.tenant.is_empty() {
                heads.insert(e.tenant.clone(), (e.chain, e.hash));
            }
            let bytes = lockbox::store::codec::encode("audit entry", &*e).unwrap();
            tx.put(Table::Audit, &e.seq.to_be_bytes(), &bytes).unwrap();
            if !e.tenant.is_empty() {
                let key = lockbox::store::raw::audit_chain_key(&e.tenant, e.chain);
                tx.put(Table::Meta, &key, &e.seq.to_be_bytes()).unwrap();
            }
        }
        for (tenant, (n, h)) in heads {
            let mut value = n.to_be_bytes().to_vec();
            value.extend_from_slice(&h);
            tx.put(Table::Meta, &[&b"audit_head\0"[..], tenant.as_bytes()].concat(), &value).unwrap();
        }
        tx.commit().unwrap();
    }
    w.reopen();
}

/// A world whose keyring has checkpointed a log with puts before and after the checkpoint.
pub fn checkpointed() -> World {
    let mut w = World::new();
    w.put("one", "internal").unwrap();
    w.put("two", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    let check = lockbox::customer::checkpoint(&vault, &mut w.keyring, "acme").unwrap();
    assert_eq!(check.size, 4, "tenant.create, manifest, two puts");
    drop(vault);
    w.put("three", "internal").unwrap();
    w
}

/// A writer that never saw the approval's manifest writes `item` under the one before it.
pub fn late_write(w: &mut World, before_approval: &TenantRecord, item: &str) {
    let fresh = Arc::new(Pins::in_memory());
    fresh
        .pin(w.vault().place(), &w.vault().id(), "acme", tenant_fingerprint(&before_approval.signer))
        .unwrap();
    let approved = w.tenant();
    w.operator(|tx| tx.put_tenant(before_approval).unwrap());
    w.vault()
        .with_pins(fresh)
        .put("acme", item, "internal", &mut Cursor::new(b"x"), PutOptions::default())
        .unwrap();
    w.operator(|tx| tx.put_tenant(&approved).unwrap());
}

/// A world whose customer named an audit monitor (every hour) that pinned the tenant and
/// signed a checkpoint; then a put the customer's own checkpoint does not cover, which the
/// monitor's next checkpoint does.
pub fn monitored() -> (World, lockbox::keyring::MonitorKey) {
    let mut w = World::new();
    let path = w.dir.path().join("acme.monitor");
    let mut monitor =
        lockbox::keyring::MonitorKey::create(&path, &Passphrase::new("m".into()), CHEAP).unwrap();
    let named = lockbox::format::ManifestMonitor { public: monitor.signing().public(), interval_secs: 3600 };
    let vault = w.vault.clone().unwrap();
    lockbox::customer::set_monitor(&vault, &mut w.keyring, "acme", Some(named)).unwrap();
    let fp = tenant_fingerprint(&w.tenant().signer);
    lockbox::customer::monitor_trust(&vault, &mut monitor, "acme", &fp, false).unwrap();
    let first = lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme").unwrap();
    drop(vault);
    w.put("late", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    let run = lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme").unwrap();
    assert_eq!((run.checkpointed, run.size), (first.size, first.size + 1), "the late put, and only it");
    assert!(
        w.keyring.for_vault(w.vault().id()).tenant("acme").unwrap().checkpoint.seq < run.size,
        "the keyring never saw it"
    );
    (w, monitor)
}
