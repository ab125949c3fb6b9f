//! The operator is the attacker: every test here edits the vault's records through the
//! library's own store API (or rolls the whole database file back), exactly as someone holding
//! the database could, and shows that the customer-rooted checks refuse and nothing leaks: no
//! key blob wrapped to a key the customer did not approve, no item wrapped to an epoch the
//! newest manifest retired, no keyring command on a vault whose manifest is not the keyring's.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use lockbox::crypto::{SecretKey, SigningKey, fingerprint, sign_note, tenant_fingerprint};
use lockbox::customer::Confirmation;
use lockbox::format::{Header, KdfParams, Manifest, SignedNote, origin};
use lockbox::keyring::{Identity, KeyState, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex, request_digest};
use lockbox::store::raw::{RawWrite, Table};
use lockbox::store::records::{GrantRecord, RequestRecord, TenantRecord};
use lockbox::store::{RedbStore, Store, Writes};
use lockbox::trust::Pins;
use lockbox::vault::{Caller, DB_FILE, ErrorKind, PutOptions, Vault};

const CHEAP: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };

/// Three parties on their own machines: the customer (keyring, and the trust store of the
/// machine that created the tenant), a writer and the engineer eve (each with their own trust
/// store, pinned from the fingerprint the customer gave them), and the operator (the store).
struct World {
    dir: tempfile::TempDir,
    vault: Option<Vault>,
    keyring: Keyring,
    eve: Identity,
    customer_pins: Arc<Pins>,
    writer_pins: Arc<Pins>,
    eve_pins: Arc<Pins>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let mut vault = Vault::init(&dir.path().join("vault")).unwrap();
        vault.set_actor("alice");
        let pass = Passphrase::new("pw".into());
        let mut keyring = Keyring::create(&dir.path().join("acme.keyring"), &pass, CHEAP).unwrap();
        let levels: Vec<String> = ["internal", "secret"].map(String::from).to_vec();
        let record = lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &levels).unwrap();
        vault.enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap();
        let eve = Identity::open(&dir.path().join("eve.id"), &pass).unwrap();
        // The fingerprint travels outside the vault (the support case): the others pin it.
        let fp = tenant_fingerprint(&record.signer);
        let (writer_pins, eve_pins) = (Arc::new(Pins::in_memory()), Arc::new(Pins::in_memory()));
        writer_pins.pin(vault.place(), &vault.id(), "acme", fp).unwrap();
        eve_pins.pin(vault.place(), &vault.id(), "acme", fp).unwrap();
        let customer_pins = vault.pins().clone();
        World { dir, vault: Some(vault), keyring, eve, customer_pins, writer_pins, eve_pins }
    }

    fn vault(&self) -> &Vault {
        self.vault.as_ref().unwrap()
    }

    fn writer(&self) -> Vault {
        self.vault().with_pins(self.writer_pins.clone()).acting_as(Caller::new("writer"))
    }

    fn engineer(&self) -> Vault {
        self.vault().with_pins(self.eve_pins.clone()).acting_as(Caller::new("eve"))
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("vault").join(DB_FILE)
    }

    fn put(&self, item: &str, level: &str) -> Result<(), lockbox::vault::Error> {
        let opts = PutOptions { replace: true, ..Default::default() };
        self.writer().put("acme", item, level, &mut Cursor::new(item.as_bytes()), opts).map(|_| ())
    }

    /// Files a request as eve; returns its id and the digest eve's client computes from her
    /// own key (what she puts in the support case).
    fn request(&self, levels: &[&str], duration: u64) -> (String, [u8; 32]) {
        let levels: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
        let req = NewRequest {
            tenant: "acme",
            engineer: "eve",
            levels: &levels,
            reason: "disk full",
            case_id: "CS-1",
            duration_secs: Some(duration),
        };
        let record = self.engineer().create_request(&req).unwrap();
        let digest = request_digest(&self.vault().id(), &record, &self.eve.secret.public().0).unwrap();
        (id_hex(&record.id), digest)
    }

    /// Approves with the digest eve gave (`Some`), or as a customer who only read what the
    /// vault showed and typed `yes` (`None`).
    fn approve(&mut self, id: &str, expect: Option<&[u8; 32]>) -> Result<GrantRecord, lockbox::vault::Error> {
        let vault = self.vault.as_ref().unwrap();
        let confirmed = match expect {
            Some(d) => Confirmation::EngineersDigest(*d),
            None => Confirmation::Shown(lockbox::customer::shown_digest(vault, id)?),
        };
        lockbox::customer::approve_request(vault, &mut self.keyring, id, None, None, confirmed)
    }

    fn engineer_get(&self, item: &str) -> Result<Vec<u8>, lockbox::vault::Error> {
        let vault = self.engineer();
        let keys = vault.engineer_keys(&self.eve, "acme")?;
        let mut out = Vec::new();
        vault.get("acme", item, &keys, &mut out).map(|_| out)
    }

    fn tenant(&self) -> TenantRecord {
        self.vault().tenant("acme").unwrap()
    }

    /// The operator at work: closes the vault, edits through the store API, reopens.
    fn operator(&mut self, f: impl FnOnce(&dyn Writes)) {
        drop(self.vault.take());
        let store = RedbStore::open(&self.db()).unwrap();
        let tx = store.begin_write().unwrap();
        f(&*tx);
        tx.commit().unwrap();
        drop(store);
        self.reopen();
    }

    fn reopen(&mut self) {
        let mut vault =
            Vault::open(&self.dir.path().join("vault")).unwrap().with_pins(self.customer_pins.clone());
        vault.set_actor("alice");
        self.vault = Some(vault);
    }

    fn item_header(&self, item: &str) -> Header {
        let mut raw = Vec::new();
        self.vault().get_raw("acme", item, &mut raw).unwrap();
        Header::decode(&raw[..Header::declared_len(&raw).unwrap()]).unwrap()
    }
}

fn integrity<T: std::fmt::Debug>(r: Result<T, lockbox::vault::Error>, needle: &str) -> lockbox::vault::Error {
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert!(e.message.contains(needle), "{needle:?} not in: {e}");
    e
}

#[test]
fn an_engineer_key_swapped_by_the_operator_gets_nothing_released() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    let operator_key = SecretKey::generate().unwrap();
    w.operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = operator_key.public().0;
        tx.put_engineer(&eve).unwrap();
    });
    // The customer checks the digest eve gave in the support case: it names eve's own key.
    integrity(w.approve(&id, Some(&digest)), "does not match the digest");
    assert!(w.vault().grants(None, None).unwrap().is_empty(), "no grant, so no blob to the operator");
    assert_eq!(w.vault().request(&id).unwrap().1.name(), "pending");
    assert!(
        w.keyring
            .for_vault(w.vault().id())
            .tenant("acme")
            .unwrap()
            .keys()
            .all(|(_, _, s, _)| s != KeyState::Released)
    );
}

#[test]
fn a_key_pinned_by_an_earlier_approval_is_not_silently_replaced() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let pinned = *w.keyring.for_vault(w.vault().id()).tenant("acme").unwrap().engineer("eve").unwrap();
    assert_eq!(pinned, w.eve.secret.public().0);
    let operator_key = SecretKey::generate().unwrap();
    w.operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = operator_key.public().0;
        tx.put_engineer(&eve).unwrap();
    });
    let (id, _) = w.request(&["secret"], 3600);
    // Even a customer who skips the digest (confirming on a terminal) is stopped by the pin.
    integrity(w.approve(&id, None), "as pinned by an earlier approval");
    assert_eq!(w.vault().grants(None, None).unwrap().len(), 1, "only the first, honest grant");
    // Re-trusting needs the fingerprint eve gives outside the vault: the operator's is refused.
    let eve_fp = fingerprint(&w.eve.secret.public().0);
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::trust_engineer(&vault, &mut w.keyring, "acme", "eve", &eve_fp),
        "nothing was pinned",
    );
}

#[test]
fn a_careless_approval_of_an_engineer_not_pinned_releases_and_pins_nothing() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    let operator_key = SecretKey::generate().unwrap();
    w.operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = operator_key.public().0;
        tx.put_engineer(&eve).unwrap();
    });
    // The customer only read what the vault showed (its key included) and said yes.
    let e = w.approve(&id, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
    assert!(e.message.contains("needs the request digest the engineer gave"), "{e}");
    assert!(w.vault().grants(None, None).unwrap().is_empty());
    assert!(
        w.keyring.for_vault(w.vault().id()).tenant("acme").unwrap().engineer("eve").is_none(),
        "the operator's key is not pinned"
    );
    // Later careless approvals are refused the same way; eve's own digest refuses the swap.
    let (id2, _) = w.request(&["secret"], 3600);
    assert_eq!(w.approve(&id2, None).unwrap_err().kind, ErrorKind::AccessDenied);
    integrity(w.approve(&id, Some(&digest)), "does not match the digest the engineer gave");
    assert!(
        w.keyring
            .for_vault(w.vault().id())
            .tenant("acme")
            .unwrap()
            .keys()
            .all(|(_, _, s, _)| s != KeyState::Released)
    );
}

#[test]
fn a_request_is_not_filed_under_a_key_that_is_not_the_engineers() {
    let mut w = World::new();
    let operator_key = SecretKey::generate().unwrap();
    w.operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = operator_key.public().0;
        tx.put_engineer(&eve).unwrap();
    });
    let levels = vec!["internal".to_string()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "CS-1",
        duration_secs: Some(60),
    };
    let e = w.engineer().file_request(&req, &w.eve.secret.public().0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
    assert!(w.vault().requests(None, None).unwrap().is_empty(), "nothing filed");
}

#[test]
fn the_engineer_reports_a_grant_wrapped_to_another_key_even_when_marked_revoked() {
    let mut w = World::new();
    w.put("i1", "internal").unwrap();
    let (id, _) = w.request(&["internal"], 3600);
    let operator_key = SecretKey::generate().unwrap();
    let real = w.eve.secret.public().0;
    w.operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = operator_key.public().0;
        tx.put_engineer(&eve).unwrap();
    });
    // A customer fooled into re-pinning eve to the key the vault shows, then approving by
    // reading the request: the customer signs a grant to the operator's key.
    let vault = w.vault.clone().unwrap();
    let shown = fingerprint(&operator_key.public().0);
    lockbox::customer::trust_engineer(&vault, &mut w.keyring, "acme", "eve", &shown).unwrap();
    drop(vault);
    let grant = w.approve(&id, None).unwrap();
    // The operator hides it: marks it revoked and puts eve's key back.
    w.operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = real;
        tx.put_engineer(&eve).unwrap();
        let mut g = tx.grant(&grant.id).unwrap().unwrap();
        g.revoked = Some((g.created, "alice".into()));
        tx.put_grant(&g).unwrap();
    });
    // Eve's client checks every signed grant under her name against her own key and says so.
    integrity(w.engineer_get("i1"), "was wrapped to key");
    // Marked expired instead (the record no longer matches the signed grant), or moved to
    // another engineer's name: the signed note still names eve, and she still sees it.
    for edit in
        [(|g: &mut GrantRecord| (g.revoked, g.expires) = (None, g.created)) as fn(&mut GrantRecord), |g| {
            (g.revoked, g.engineer) = (None, "mallory".into())
        }]
    {
        w.operator(|tx| {
            let mut g = tx.grant(&grant.id).unwrap().unwrap();
            edit(&mut g);
            tx.put_grant(&g).unwrap();
        });
        integrity(w.engineer_get("i1"), "was wrapped to key");
    }
}

#[test]
fn a_vault_swapped_for_the_operators_own_is_refused_naming_both_ids() {
    let mut w = World::new();
    w.put("i1", "internal").unwrap();
    let real = w.vault().id();
    // Another vault holding a tenant "acme" under a key the operator holds (another provider
    // the writer also works for, say: the writer pinned it there, at its own place).
    let theirs = w.dir.path().join("theirs");
    let fake = Vault::init(&theirs).unwrap();
    let pass = Passphrase::new("pw".into());
    let mut ring = Keyring::create(&w.dir.path().join("theirs.keyring"), &pass, CHEAP).unwrap();
    let other =
        lockbox::customer::create_tenant(&fake, &mut ring, "acme", &["internal".to_string()]).unwrap();
    let fake_id = fake.id();
    w.writer_pins.pin(fake.place(), &fake_id, "acme", tenant_fingerprint(&other.signer)).unwrap();
    drop(fake);
    drop(w.vault.take());
    std::fs::copy(theirs.join(DB_FILE), w.db()).unwrap();
    w.reopen();
    assert_eq!(w.vault().id(), fake_id);
    let e = w.put("i2", "internal").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&lockbox::format::hex(&real)) && text.contains(&lockbox::format::hex(&fake_id)),
        "{text}"
    );
    assert!(w.vault().item("acme", "i2").is_err(), "nothing written to the vault swapped in");
    // Nor is the writer's path made a link to the other vault's directory: the place is the
    // path the writer names, not where a link leads.
    drop(w.vault.take());
    let real_dir = w.dir.path().join("vault");
    std::fs::rename(&real_dir, w.dir.path().join("vault.moved")).unwrap();
    std::os::unix::fs::symlink(&theirs, &real_dir).unwrap();
    let through_link = Vault::open(&real_dir).unwrap().with_pins(w.writer_pins.clone());
    let e = through_link
        .put("acme", "i3", "internal", &mut Cursor::new(b"x"), PutOptions::default())
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    drop(through_link);
    std::fs::remove_file(&real_dir).unwrap();
    std::fs::rename(w.dir.path().join("vault.moved"), &real_dir).unwrap();
    w.reopen();
    // Pinning again at this place (the writer decides the vault here is the one to use) is the
    // only way on.
    let fp = tenant_fingerprint(&w.tenant().signer);
    w.writer_pins.pin(w.vault().place(), &fake_id, "acme", fp).unwrap();
    w.put("i2", "internal").unwrap();
}

#[test]
fn a_request_edited_after_the_engineer_filed_it_releases_nothing() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 600);
    let raw: [u8; 16] = std::array::from_fn(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap());
    for edit in [
        (|r: &mut RequestRecord| r.levels.push("secret".into())) as fn(&mut RequestRecord),
        |r| r.duration_secs = 4 * 3600,
        |r| r.reason = "routine".into(),
    ] {
        w.operator(|tx| {
            let mut r = tx.request(&raw).unwrap().unwrap();
            edit(&mut r);
            tx.put_request(&r).unwrap();
        });
        integrity(w.approve(&id, Some(&digest)), "does not match the digest");
        assert!(w.vault().grants(None, None).unwrap().is_empty());
    }
    // A prefix is not an approval's id: the whole id, or nothing.
    assert_eq!(w.approve(&id[..8], Some(&digest)).unwrap_err().kind, ErrorKind::Usage);
}

#[test]
fn a_tenant_record_rolled_back_is_refused_by_writers_and_by_the_keyring() {
    let mut w = World::new();
    w.put("before", "internal").unwrap();
    let before = w.tenant();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    w.put("after", "internal").unwrap();
    assert_eq!(w.item_header("after").key_epoch, 2);
    // The operator restores the tenant as it was before the approval (epoch 1, manifest 1).
    w.operator(|tx| tx.put_tenant(&before).unwrap());
    integrity(w.put("later", "internal"), "older than seq 2 seen before");
    assert!(w.vault().item("acme", "later").is_err(), "nothing was written");
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false),
        "older than the one this keyring signed last",
    );
    integrity(lockbox::customer::add_level(&vault, &mut w.keyring, "acme", "pii"), "older");
    assert_eq!(w.tenant(), before, "no keyring command changed the vault");
}

#[test]
fn an_epoch_deleted_from_the_record_does_not_move_writers_back() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    // The operator drops epoch 2 from the record but cannot re-sign the manifest.
    w.operator(|tx| {
        let mut t = tx.tenant("acme").unwrap().unwrap();
        t.levels.iter_mut().find(|l| l.name == "internal").unwrap().epochs.pop();
        tx.put_tenant(&t).unwrap();
    });
    // The writer follows the signed manifest (epoch 2); the commit then finds the record at
    // epoch 1 and refuses rather than store an item the grant could read.
    let r = w.put("new", "internal");
    assert!(r.is_err(), "{r:?}");
    assert!(w.vault().item("acme", "new").is_err());
    assert_eq!(w.engineer_get("new").unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn rolling_the_whole_database_file_back_is_refused() {
    let mut w = World::new();
    w.put("one", "internal").unwrap();
    let old = std::fs::read(w.db()).unwrap();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    w.put("two", "internal").unwrap();
    drop(w.vault.take());
    std::fs::write(w.db(), &old).unwrap();
    w.reopen();
    integrity(w.put("three", "internal"), "older than seq 2");
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme"), "older");
    integrity(lockbox::customer::resync(&vault, &mut w.keyring, "acme"), "never moves back");
}

#[test]
fn a_level_key_substituted_by_the_operator_is_never_used() {
    let mut w = World::new();
    let operator_key = SecretKey::generate().unwrap();
    let signed = w.tenant();
    // 1. In the record only: writers take the key from the signed manifest instead.
    w.operator(|tx| {
        let mut t = signed.clone();
        t.levels[0].epochs[0].public = operator_key.public().0;
        tx.put_tenant(&t).unwrap();
    });
    let manifest =
        lockbox::vault::open_manifest(&signed.manifest, &w.vault().id(), "acme", &signed.signer).unwrap();
    let stated = manifest.level(&signed.levels[0].name).unwrap().public;
    w.put("x", &signed.levels[0].name).unwrap();
    let h = w.item_header("x");
    assert_eq!(h.fingerprint, fingerprint(&stated), "wrapped to the customer's key");
    assert_ne!(h.fingerprint, fingerprint(&operator_key.public().0));
    // 2. In the manifest's text: the signature no longer verifies.
    w.operator(|tx| {
        let mut t = signed.clone();
        t.manifest = t
            .manifest
            .replace(&lockbox::format::hex(&stated), &lockbox::format::hex(&operator_key.public().0));
        tx.put_tenant(&t).unwrap();
    });
    integrity(w.put("y", &signed.levels[0].name), "does not verify");
    // 3. A whole manifest re-signed with the operator's own tenant key: not the pinned key.
    let forged_key = SigningKey::generate().unwrap();
    let mut m = manifest.clone();
    m.levels[0].public = operator_key.public().0;
    let note = sign_note(&forged_key, &origin(&w.vault().id(), "acme"), m.encode()).encode();
    w.operator(|tx| {
        let mut t = signed.clone();
        t.signer = forged_key.public();
        t.manifest = note.clone();
        tx.put_tenant(&t).unwrap();
    });
    integrity(w.put("z", &signed.levels[0].name), "not the pinned");
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false),
        "signing key",
    );
}

#[test]
fn a_deleted_tenant_is_not_created_again_over_released_keys() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    w.operator(|tx| assert!(tx.remove_tenant("acme").unwrap()));
    let vault = w.vault.clone().unwrap();
    let levels = vec!["internal".to_string()];
    integrity(
        lockbox::customer::create_tenant(&vault, &mut w.keyring, "acme", &levels),
        "removed outside lockbox",
    );
    integrity(
        lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false),
        "the vault has no tenant",
    );
    // A level dropped from the record is still in the signed manifest: not added again.
    let mut w = World::new();
    w.operator(|tx| {
        let mut t = tx.tenant("acme").unwrap().unwrap();
        t.levels.retain(|l| l.name != "secret");
        tx.put_tenant(&t).unwrap();
    });
    let vault = w.vault.clone().unwrap();
    let e = lockbox::customer::add_level(&vault, &mut w.keyring, "acme", "secret").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
}

#[test]
fn every_signed_statement_is_checked_for_its_tenant_vault_kind_and_bytes() {
    let mut w = World::new();
    let t = w.tenant();
    let vault_id = w.vault().id();
    let open = |note: &str, tenant: &str| lockbox::vault::open_manifest(note, &vault_id, tenant, &t.signer);
    assert!(open(&t.manifest, "acme").is_ok());
    // One flipped byte anywhere in the note: malformed or unsigned, never accepted.
    for i in 0..t.manifest.len() {
        let mut bytes = t.manifest.clone().into_bytes();
        bytes[i] ^= 1;
        let Ok(text) = String::from_utf8(bytes) else { continue };
        assert!(open(&text, "acme").is_err(), "flip at {i} accepted");
    }
    // Another tenant's name, or another vault's id.
    assert!(open(&t.manifest, "globex").is_err());
    assert!(lockbox::vault::open_manifest(&t.manifest, &[0; 16], "acme", &t.signer).is_err());
    // Another kind signed by the same key: a grant is never a manifest.
    let (id, digest) = w.request(&["internal"], 3600);
    let grant = w.approve(&id, Some(&digest)).unwrap();
    assert!(open(&grant.note, "acme").is_err());
    // Expired: writers refuse it once past its expiry, by their own clock.
    let m = Manifest::decode(&SignedNote::decode(&w.tenant().manifest).unwrap().body).unwrap();
    let late = w.writer().acting_as(Caller::at("writer", m.expires));
    let r = late.put("acme", "late", "internal", &mut Cursor::new(b"x"), PutOptions::default());
    integrity(r, "expired");
    drop(late);
    // A grant note flipped or swapped, or its key blobs changed: the engineer refuses it.
    w.put("i1", "internal").unwrap();
    let (id2, digest2) = w.request(&["secret"], 3600);
    let other = w.approve(&id2, Some(&digest2)).unwrap();
    w.operator(|tx| {
        let mut g = tx.grant(&grant.id).unwrap().unwrap();
        g.keys.push(g.keys[0].clone());
        tx.put_grant(&g).unwrap();
    });
    integrity(w.engineer_get("i1"), "not one the customer signed");
    w.operator(|tx| {
        let mut g = tx.grant(&grant.id).unwrap().unwrap();
        g.keys.pop();
        let last = g.note.len() - 3;
        g.note.replace_range(last..last + 1, if &g.note[last..last + 1] == "A" { "B" } else { "A" });
        tx.put_grant(&g).unwrap();
    });
    integrity(w.engineer_get("i1"), "not one the customer signed");
    w.operator(|tx| {
        let mut g = tx.grant(&grant.id).unwrap().unwrap();
        g.note = other.note.clone();
        tx.put_grant(&g).unwrap();
    });
    integrity(w.engineer_get("i1"), "not one the customer signed");
}

#[test]
fn a_keyring_restored_from_an_older_copy_needs_an_explicit_resync() {
    let mut w = World::new();
    let old_copy = std::fs::read(w.keyring.path()).unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false).unwrap();
    std::fs::write(w.keyring.path(), &old_copy).unwrap();
    let mut old = Keyring::open(w.keyring.path(), &Passphrase::new("pw".into())).unwrap();
    let e = integrity(
        lockbox::customer::rotate_level(&vault, &mut old, "acme", "secret", false),
        "restored from an older copy",
    );
    assert_eq!(e.remedy, Some(lockbox::vault::Remedy::Resync { tenant: "acme".into() }));
    let r = lockbox::customer::resync(&vault, &mut old, "acme").unwrap();
    assert_eq!((r.from, r.to), (1, 2));
    assert_eq!(r.missing, vec![("internal".to_string(), 2)], "the lost key is named");
    lockbox::customer::rotate_level(&vault, &mut old, "acme", "secret", false).unwrap();
    // A chain with a manifest removed from the log cannot be resynced over.
    let mut w = World::new();
    let old_copy = std::fs::read(w.keyring.path()).unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false).unwrap();
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false).unwrap();
    std::fs::write(w.keyring.path(), &old_copy).unwrap();
    drop(vault);
    // The operator deletes the log entry of the middle manifest (seq 2).
    drop(w.vault.take());
    {
        let store = RedbStore::open(&w.db()).unwrap();
        let tx = store.begin_raw_write().unwrap();
        let entries = lockbox::audit::entries(&tx, Some("acme")).unwrap();
        let middle = entries.iter().filter(|e| e.action() == "manifest").nth(1).unwrap();
        tx.remove(Table::Audit, &middle.seq.to_be_bytes()).unwrap();
        tx.commit().unwrap();
    }
    w.reopen();
    let mut old = Keyring::open(w.keyring.path(), &Passphrase::new("pw".into())).unwrap();
    let vault = w.vault.clone().unwrap();
    assert!(lockbox::customer::resync(&vault, &mut old, "acme").is_err());
}

#[test]
fn an_approval_the_vault_never_committed_leaves_nothing_current_that_was_released() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    let vault = w.vault.clone().unwrap();
    // The operator takes the prepared approval (its blobs) and refuses the commit.
    let _kept = lockbox::customer::prepare_approval(
        &vault,
        &mut w.keyring,
        &id,
        None,
        None,
        Confirmation::EngineersDigest(digest),
    )
    .unwrap();
    // The keyring will not sign a manifest that keeps the released key current...
    integrity(lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme"), "was released");
    integrity(lockbox::customer::add_level(&vault, &mut w.keyring, "acme", "pii"), "was released");
    // ...until the level is rotated away from it.
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false).unwrap();
    lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    w.put("after", "internal").unwrap();
    assert_eq!(w.item_header("after").key_epoch, 2);
}

#[test]
fn a_writer_refuses_a_second_manifest_at_a_sequence_number_it_saw() {
    let mut w = World::new();
    let old_keyring = std::fs::read(w.keyring.path()).unwrap();
    drop(w.vault.take());
    let old_db = std::fs::read(w.db()).unwrap();
    w.reopen();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    w.put("a", "internal").unwrap();
    // The vault and the keyring are both restored from copies older than that manifest, and the
    // customer signs another one with the same sequence number.
    drop(w.vault.take());
    std::fs::write(w.db(), &old_db).unwrap();
    w.reopen();
    std::fs::write(w.keyring.path(), &old_keyring).unwrap();
    let mut restored = Keyring::open(w.keyring.path(), &Passphrase::new("pw".into())).unwrap();
    let vault = w.vault.clone().unwrap();
    let change = lockbox::customer::PolicyChange { max_access_secs: Some(120), ..Default::default() };
    lockbox::customer::set_policy(&vault, &mut restored, "acme", change).unwrap();
    drop(vault);
    integrity(w.put("b", "internal"), "a fork");
}

#[test]
fn a_rewrap_never_touches_a_record_planted_from_another_tenant() {
    let mut w = World::new();
    let vault = w.vault.clone().unwrap();
    // The same keyring holds a second tenant: exactly whose data key a planted record would leak.
    lockbox::customer::create_tenant(&vault, &mut w.keyring, "globex", &["internal".to_string()]).unwrap();
    drop(vault);
    let writer = w.writer();
    writer.trust_tenant("globex", tenant_fingerprint(&w.vault().tenant("globex").unwrap().signer)).unwrap();
    writer
        .put("globex", "secret-plan", "internal", &mut Cursor::new(b"globex only"), PutOptions::default())
        .unwrap();
    drop(writer);
    w.operator(|tx| {
        let record = tx.item("globex", "secret-plan").unwrap().unwrap();
        tx.put_item("acme", "planted", &record).unwrap();
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", true),
        "another item, tenant or level",
    );
    assert_eq!(w.vault().tenant("acme").unwrap().levels[0].epochs.len(), 1, "nothing was rotated");
}

#[test]
fn a_request_naming_a_level_twice_is_refused() {
    let mut w = World::new();
    let (id, _) = w.request(&["internal"], 600);
    let raw: [u8; 16] = std::array::from_fn(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap());
    w.operator(|tx| {
        let mut r = tx.request(&raw).unwrap().unwrap();
        r.levels.push("internal".into());
        tx.put_request(&r).unwrap();
    });
    // Even a digest over the doubled list (as if eve's client had made it) releases nothing.
    let edited = w.vault().request(&id).unwrap().0;
    let digest = request_digest(&w.vault().id(), &edited, &w.eve.secret.public().0).unwrap();
    integrity(w.approve(&id, Some(&digest)), "twice");
    assert!(
        w.keyring
            .for_vault(w.vault().id())
            .tenant("acme")
            .unwrap()
            .keys()
            .all(|(_, _, s, _)| s != KeyState::Released)
    );
}

/// The operator rewrites the whole log consistently: `edit` changes the entries, then every
/// sequence number, link, tenant chain position and hash is recomputed, and the store's tenant
/// heads and chain index reset, exactly as someone holding the file and the code could.
fn rewrite_log(w: &mut World, edit: impl FnOnce(&mut Vec<lockbox::audit::Entry>)) {
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
fn checkpointed() -> World {
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

#[test]
fn the_log_rewritten_before_a_checkpoint_is_caught_even_with_every_hash_recomputed() {
    let mut w = checkpointed();
    rewrite_log(&mut w, |es| {
        let put = es.iter_mut().find(|e| e.action() == "put").unwrap();
        let lockbox::audit::Event::Put(stored) = &mut put.event else { unreachable!() };
        stored.size += 1;
    });
    assert!(
        matches!(w.vault().verify_audit(None).unwrap(), lockbox::audit::Verdict::Intact { .. }),
        "consistent"
    );
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"),
        "rewritten before the checkpoint",
    );
    integrity(
        lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme"),
        "rewritten before the checkpoint",
    );
}

#[test]
fn the_log_cut_back_or_thinned_before_a_checkpoint_is_caught() {
    let mut w = checkpointed();
    rewrite_log(&mut w, |es| {
        let keep = es.iter().position(|e| e.action() == "put").unwrap();
        es.truncate(keep);
    });
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"), "cut back");
    drop(vault);
    let mut w = checkpointed();
    rewrite_log(&mut w, |es| {
        let first_put = es.iter().position(|e| e.action() == "put").unwrap();
        es.remove(first_put);
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"),
        "rewritten before the checkpoint",
    );
    drop(vault);
    // Reordered: the two puts swapped.
    let mut w = checkpointed();
    rewrite_log(&mut w, |es| {
        let a = es.iter().position(|e| e.action() == "put").unwrap();
        es.swap(a, a + 1);
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"),
        "rewritten before the checkpoint",
    );
}

#[test]
fn a_manifest_dropped_from_the_log_is_caught() {
    let mut w = World::new();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    // After the checkpoint the refresh signed first: only the logged manifests stand guard.
    rewrite_log(&mut w, |es| {
        let last = es.iter().rposition(|e| e.action() == "manifest").unwrap();
        es.remove(last);
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"),
        "does not end with the manifest",
    );
}

#[test]
fn items_replaced_planted_removed_or_written_to_a_released_epoch_are_reported() {
    let mut w = World::new();
    w.put("kept", "internal").unwrap();
    w.put("rolled", "internal").unwrap();
    let old_rolled = {
        drop(w.vault.take());
        let store = RedbStore::open(&w.db()).unwrap();
        let r = store.begin_read().unwrap().item("acme", "rolled").unwrap().unwrap();
        drop(store);
        w.reopen();
        r
    };
    w.put("rolled", "internal").unwrap();
    w.put("gone", "secret").unwrap();
    let before_approval = w.tenant();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let vault = w.vault.clone().unwrap();
    assert_eq!(lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap(), Vec::<String>::new());
    drop(vault);
    // The operator: an older version restored, an item planted, one deleted...
    w.operator(|tx| {
        tx.put_item("acme", "rolled", &old_rolled).unwrap();
        let kept = tx.item("acme", "kept").unwrap().unwrap();
        tx.put_item("acme", "planted", &kept).unwrap();
        tx.remove_item_record("acme", "gone").unwrap();
    });
    // ...and a writer that never saw the approval's manifest, shown the one before it.
    let fresh = Arc::new(Pins::in_memory());
    fresh
        .pin(w.vault().place(), &w.vault().id(), "acme", tenant_fingerprint(&before_approval.signer))
        .unwrap();
    let approved = w.tenant();
    w.operator(|tx| tx.put_tenant(&before_approval).unwrap());
    w.vault()
        .with_pins(fresh)
        .put("acme", "late", "internal", &mut Cursor::new(b"x"), PutOptions::default())
        .unwrap();
    w.operator(|tx| tx.put_tenant(&approved).unwrap());
    let vault = w.vault.clone().unwrap();
    let problems = lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap().join("\n");
    for needle in [
        "item \"rolled\" is not what audit entry",
        "item \"planted\" has no logged write",
        "item \"gone\", written by audit entry",
        "wrote item \"late\" at level \"internal\" epoch 1, after a manifest had released that epoch",
        "not the last one logged before it: the entry was moved across a manifest",
    ] {
        assert!(problems.contains(needle), "{needle:?} not in:\n{problems}");
    }
    assert_eq!(problems.lines().count(), 5, "{problems}");
}

/// An engineer who kept the data key of an item keeps reading it after a rewrap (the content
/// keys do not change) but not after a re-encryption.
/// A writer that never saw the approval's manifest writes `item` under the one before it.
fn late_write(w: &mut World, before_approval: &TenantRecord, item: &str) {
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

#[test]
fn a_write_is_judged_by_its_stored_header_never_by_its_logged_text() {
    let mut w = World::new();
    let before_approval = w.tenant();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    late_write(&mut w, &before_approval, "late");
    // The operator rewrites the late write's text in the unprotected tail, every hash
    // recomputed: it now claims the new epoch.
    rewrite_log(&mut w, |es| {
        let e = es.iter_mut().rfind(|e| e.subject == "late").unwrap();
        let lockbox::audit::Event::Put(stored) = &mut e.event else { unreachable!() };
        assert_eq!(stored.epoch, 1);
        stored.epoch = 2;
    });
    let vault = w.vault.clone().unwrap();
    let problems = lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap().join("\n");
    assert!(
        problems.contains(
            "wrote item \"late\" at level \"internal\" epoch 1, after a manifest had released that epoch"
        ),
        "{problems}"
    );
}

#[test]
fn a_write_moved_across_a_manifest_is_reported() {
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    w.put("after", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    assert_eq!(lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap(), Vec::<String>::new());
    drop(vault);
    // The write names the approval's manifest; the operator moves it before that manifest.
    rewrite_log(&mut w, |es| {
        let at = es.iter().rposition(|e| e.subject == "after").unwrap();
        let put = es.remove(at);
        let manifest = es.iter().rposition(|e| e.action() == "manifest").unwrap();
        es.insert(manifest, put);
    });
    let vault = w.vault.clone().unwrap();
    let problems = lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap().join("\n");
    assert!(problems.contains("not the last one logged before it: the entry was moved"), "{problems}");
}

#[test]
fn reencryption_leaves_kept_data_keys_useless_where_rewrap_does_not() {
    use lockbox::crypto::{DataKey, ItemKeys, Purpose, Wrapped};
    use lockbox::vault::LevelKeys;
    let mut w = World::new();
    w.put("doc", "internal").unwrap();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let h = w.item_header("doc");
    let engineer = w.engineer();
    let keys = engineer.engineer_keys(&w.eve, "acme").unwrap();
    let wrapped = Wrapped { ephemeral: h.ephemeral, ciphertext: h.wrapped_dek };
    let kept =
        keys.unwrapper(&h).unwrap().unwrap(Purpose::DataKey, &h.wrap_context().unwrap(), &wrapped).unwrap();
    drop(keys);
    drop(engineer);
    let opens = |header: &Header| {
        ItemKeys::derive(
            &DataKey::from_bytes(kept.clone()),
            &header.nonce,
            &header.content_context().unwrap(),
        )
        .opener(&header.commitment)
        .is_ok()
    };
    assert!(opens(&h));
    let vault = w.vault.clone().unwrap();
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", true).unwrap();
    assert!(opens(&w.item_header("doc")), "a rewrap keeps the content keys");
    let r = lockbox::customer::reencrypt_level(&vault, &mut w.keyring, "acme", "internal", &mut |_, _| {})
        .unwrap();
    assert_eq!((r.epoch, r.rewrapped), (4, 1));
    let after = w.item_header("doc");
    assert_eq!((after.epoch, after.key_epoch), (4, 4));
    assert!(!opens(&after), "the kept data key opens nothing now");
    let mut out = Vec::new();
    vault.get("acme", "doc", &w.keyring, &mut out).unwrap();
    assert_eq!(out, b"doc");
    drop(vault);
    // Nothing left to do: a second run re-encrypts only what is still old (nothing).
    let vault = w.vault.clone().unwrap();
    let again =
        lockbox::customer::reencrypt_level(&vault, &mut w.keyring, "acme", "internal", &mut |_, _| {})
            .unwrap();
    assert_eq!(again.rewrapped, 1, "rotated again, so the one item is older again");
    let problems = lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

/// A reader that fails part-way through an item makes its re-encryption fail: the put never
/// stores what arrived before the failure as if it were the whole item.
#[test]
fn a_reencryption_never_stores_a_truncated_item() {
    let mut w = World::new();
    let data: Vec<u8> = (0..100u8).collect();
    let opts = PutOptions { replace: false, chunk_size: 16 };
    w.writer().put("acme", "long", "internal", &mut Cursor::new(&data), opts).unwrap();
    w.operator(|tx| {
        let record = tx.item("acme", "long").unwrap().unwrap();
        let mut last = tx.chunk(&record.blob, record.chunks - 1).unwrap().unwrap();
        last[0] ^= 1;
        tx.put_chunk(&record.blob, record.chunks - 1, &last).unwrap();
    });
    let before = w.item_header("long");
    let vault = w.vault.clone().unwrap();
    let e = lockbox::customer::reencrypt_level(&vault, &mut w.keyring, "acme", "internal", &mut |_, _| {})
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    drop(vault);
    assert_eq!(
        w.item_header("long"),
        before,
        "the damaged item is left as it was, not replaced by its first chunks"
    );
}

#[test]
fn an_entry_changed_without_recomputing_its_hash_breaks_the_tenant_chain() {
    let mut w = checkpointed();
    drop(w.vault.take());
    {
        let store = RedbStore::open(&w.db()).unwrap();
        let tx = store.begin_raw_write().unwrap();
        let mut e =
            lockbox::audit::entries(&tx, None).unwrap().into_iter().find(|e| e.action() == "put").unwrap();
        let lockbox::audit::Event::Put(stored) = &mut e.event else { unreachable!() };
        stored.size += 1;
        tx.put(
            Table::Audit,
            &e.seq.to_be_bytes(),
            &lockbox::store::codec::encode("audit entry", &e).unwrap(),
        )
        .unwrap();
        tx.commit().unwrap();
    }
    w.reopen();
    let vault = w.vault.clone().unwrap();
    // The whole chain is read by `audit verify --keyring` and `verify --keyring`; a keyring
    // command reads only what follows its checkpoint, which this entry's hash still anchors.
    integrity(
        lockbox::customer::checked_entries(&vault, &mut w.keyring, "acme"),
        "contents do not match its hash",
    );
    lockbox::customer::check_audit(&vault, &mut w.keyring, "acme").expect("reads from the checkpoint on");
}

#[test]
fn a_logged_manifest_or_approval_the_keyring_did_not_sign_is_caught() {
    // A manifest entry signed by another key, appended after the checkpoint.
    let mut w = checkpointed();
    let forged_key = SigningKey::generate().unwrap();
    let t = w.tenant();
    let mut m = lockbox::vault::open_manifest(&t.manifest, &w.vault().id(), "acme", &t.signer).unwrap();
    m.seq += 1;
    m.prev = lockbox::vault::manifest_hash(&t.manifest);
    let forged = sign_note(&forged_key, &m.origin, m.encode()).encode();
    rewrite_log(&mut w, |es| {
        let mut e = es.iter().find(|e| e.action() == "manifest").unwrap().clone();
        e.event = lockbox::audit::Event::Manifest { note: forged.clone() };
        es.push(e);
    });
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"), "does not verify");
    drop(vault);
    // An approval entry naming a real grant for another request.
    let mut w = World::new();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let (other, _) = w.request(&["internal"], 3600);
    rewrite_log(&mut w, |es| {
        let mut e = es.iter().find(|e| e.action() == "request.approve").unwrap().clone();
        e.subject = other.clone();
        es.push(e);
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"),
        "is not one the tenant key signed",
    );
}

#[test]
fn a_tenant_deleted_and_created_again_works_with_its_new_keyring() {
    let mut w = World::new();
    w.put("old", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::delete_tenant(&vault, &mut w.keyring, "acme").unwrap();
    lockbox::customer::create_tenant(&vault, &mut w.keyring, "acme", &["internal".to_string()]).unwrap();
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", false).unwrap();
    let problems = lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn imported_and_rewrapped_items_are_checked_too_however_many() {
    let mut w = World::new();
    let src = w.dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..8200 {
        std::fs::write(src.join(format!("{}-{i:05}", "n".repeat(150))), i.to_string()).unwrap();
    }
    let r = w.writer().import_dir("acme", "internal", &src, false, &mut |_, _| {}).unwrap();
    assert_eq!(r.items, 8200);
    let continued = w
        .vault()
        .audit_entries(Some("acme"))
        .unwrap()
        .iter()
        .filter(|e| e.action() == "import.items")
        .count();
    assert!(continued >= 1, "one entry could not hold 8200 lines");
    let vault = w.vault.clone().unwrap();
    assert!(lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap().is_empty());
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "internal", true).unwrap();
    assert!(lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap().is_empty());
    drop(vault);
    // The operator swaps two items' records: both are reported.
    w.operator(|tx| {
        let (first, last) = (format!("{}-00000", "n".repeat(150)), format!("{}-08199", "n".repeat(150)));
        let a = tx.item("acme", &first).unwrap().unwrap();
        let b = tx.item("acme", &last).unwrap().unwrap();
        tx.put_item("acme", &first, &b).unwrap();
        tx.put_item("acme", &last, &a).unwrap();
    });
    let vault = w.vault.clone().unwrap();
    let problems = lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap().join("\n");
    assert_eq!(problems.matches("replaced or rolled back").count(), 2, "{problems}");
}

#[test]
fn a_replacement_of_a_version_read_refuses_a_newer_one() {
    let w = World::new();
    w.put("doc", "internal").unwrap();
    let mut raw = Vec::new();
    w.vault().get_raw("acme", "doc", &mut raw).unwrap();
    let read = lockbox::crypto::sha256(&raw[..Header::declared_len(&raw).unwrap()]);
    // Someone writes a newer version meanwhile.
    w.put("doc", "internal").unwrap();
    let writer = w.writer();
    let e = writer
        .replace_if_unchanged("acme", "doc", "internal", &mut Cursor::new(b"stale"), 64, read)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    let mut now = Vec::new();
    writer.get_raw("acme", "doc", &mut now).unwrap();
    let current = lockbox::crypto::sha256(&now[..Header::declared_len(&now).unwrap()]);
    writer.replace_if_unchanged("acme", "doc", "internal", &mut Cursor::new(b"fresh"), 64, current).unwrap();
}

/// A world whose customer named an audit monitor (every hour) that pinned the tenant and
/// signed a checkpoint; then a put the customer's own checkpoint does not cover, which the
/// monitor's next checkpoint does.
fn monitored() -> (World, lockbox::keyring::MonitorKey) {
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

#[test]
fn a_writer_needs_the_monitors_fresh_word_that_the_manifest_is_current() {
    let (mut w, mut monitor) = monitored();
    let before_approval = w.tenant();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme").unwrap();
    drop(vault);
    w.put("fresh", "internal").unwrap();
    // A writer that never saw the approval's manifest, shown the one before it (still
    // signed, not expired): the monitor's checkpoint names the newer one.
    let unaware = Arc::new(Pins::in_memory());
    unaware
        .pin(w.vault().place(), &w.vault().id(), "acme", tenant_fingerprint(&before_approval.signer))
        .unwrap();
    let approved = w.tenant();
    w.operator(|tx| tx.put_tenant(&before_approval).unwrap());
    let put = |v: &Vault, item: &str| {
        v.put("acme", item, "internal", &mut Cursor::new(b"x"), PutOptions::default()).map(|_| ())
    };
    integrity(put(&w.vault().with_pins(unaware.clone()), "withheld"), "the monitor saw manifest seq");
    w.operator(|tx| tx.put_tenant(&approved).unwrap());
    // The monitor's word goes stale after its interval plus the clock skew.
    let signed = {
        let note = w.vault().monitor_checkpoint("acme").unwrap().unwrap();
        lockbox::format::Checkpoint::decode(&SignedNote::decode(&note).unwrap().body).unwrap().time
    };
    let last = signed + 3600 + lockbox::vault::CLOCK_SKEW_SECS;
    put(&w.writer().acting_as(Caller::at("writer", last)), "in-time").unwrap();
    integrity(
        put(&w.writer().acting_as(Caller::at("writer", last + 1)), "stale"),
        "old, more than its interval",
    );
    // Withheld or replaced by something that does not verify: refused too.
    w.operator(|tx| tx.put_monitor_checkpoint("acme", "not a note").unwrap());
    integrity(put(&w.writer(), "unverified"), "does not verify under the monitor key");
    for item in ["withheld", "stale", "unverified"] {
        assert!(w.vault().item("acme", item).is_err(), "{item} was not written");
    }
}

#[test]
fn a_manifest_hidden_from_the_monitor_is_caught_by_the_customer_and_when_put_back() {
    let (mut w, mut monitor) = monitored();
    let before_approval = w.tenant();
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let approved = w.tenant();
    // The operator cuts the approval and its manifest from the log (every hash recomputed)
    // and shows the manifest before it, keeping them aside.
    let mut cut = Vec::new();
    rewrite_log(&mut w, |es| {
        let approval = es.iter().position(|e| e.action() == "request.approve").unwrap();
        let manifest = es.iter().rposition(|e| e.action() == "manifest").unwrap();
        cut = es.split_off(approval.min(manifest));
    });
    assert!(cut.iter().any(|e| e.action() == "manifest"), "{cut:?}");
    w.operator(|tx| tx.put_tenant(&before_approval).unwrap());
    // The monitor, shown only that, signs on; writers believe the old manifest is current
    // (the window: until the customer's next keyring command, or the manifest's expiry).
    let later = w.vault().now() + 900;
    let at = |v: &Vault, t: u64| v.acting_as(Caller::at("monitor", t));
    lockbox::customer::monitor_checkpoint(&at(w.vault(), later), &mut monitor, "acme").unwrap();
    w.writer()
        .acting_as(Caller::at("writer", later + 1))
        .put("acme", "exposed", "internal", &mut Cursor::new(b"x"), PutOptions::default())
        .unwrap();
    lockbox::customer::monitor_checkpoint(&at(w.vault(), later + 2), &mut monitor, "acme").unwrap();
    // The customer's next keyring command sees the vault is not at the manifest it signed.
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme"),
        "older than the one this keyring signed last",
    );
    drop(vault);
    // Put back after the entries the monitor covered, the manifest's own signed issue time
    // gives it away to the monitor.
    rewrite_log(&mut w, |es| es.extend(cut));
    w.operator(|tx| tx.put_tenant(&approved).unwrap());
    integrity(
        lockbox::customer::monitor_checkpoint(&at(w.vault(), later + 3), &mut monitor, "acme"),
        "withheld from the log and put back",
    );
}

#[test]
fn without_a_monitor_the_manifest_lifetime_is_the_tenants_policy() {
    use lockbox::customer::{PolicyChange, set_policy};
    let mut w = World::new();
    let vault = w.vault.clone().unwrap();
    for out_of_range in [3599, 30 * 86_400 + 1] {
        let change = PolicyChange { manifest_lifetime_secs: Some(out_of_range), ..Default::default() };
        assert_eq!(set_policy(&vault, &mut w.keyring, "acme", change).unwrap_err().kind, ErrorKind::Usage);
    }
    let hour = PolicyChange { manifest_lifetime_secs: Some(3600), ..Default::default() };
    set_policy(&vault, &mut w.keyring, "acme", hour).unwrap();
    // Every manifest signed after keeps it (a refresh, an approval's rotation...).
    lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    let issued = {
        let note = SignedNote::decode(&w.tenant().manifest).unwrap();
        Manifest::decode(&note.body).unwrap().issued
    };
    let put = |at: u64, item: &str| {
        let v = w.writer().acting_as(Caller::at("writer", at));
        v.put("acme", item, "internal", &mut Cursor::new(b"x"), PutOptions::default()).map(|_| ())
    };
    put(issued + 3599, "in-time").unwrap();
    integrity(put(issued + 3600, "late"), "expired");
}

impl World {
    /// Copies the database file aside (as a backup would keep it).
    fn snapshot(&mut self, name: &str) -> PathBuf {
        drop(self.vault.take());
        let copy = self.dir.path().join(name);
        std::fs::copy(self.db(), &copy).unwrap();
        self.reopen();
        copy
    }

    /// Puts a copied database file back in place.
    fn restore(&mut self, copy: &PathBuf) {
        drop(self.vault.take());
        std::fs::copy(copy, self.db()).unwrap();
        self.reopen();
    }
}

#[test]
fn a_restored_vault_is_accepted_only_explicitly_and_no_released_key_is_current_again() {
    use lockbox::customer::{accept_restore, refresh_manifest, restore_gap};
    let mut w = World::new();
    w.put("old", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::checkpoint(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    let backup = w.snapshot("backup.redb");
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    w.put("new", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::add_level(&vault, &mut w.keyring, "acme", "extra").unwrap();
    drop(vault);
    w.restore(&backup);
    let vault = w.vault.clone().unwrap();
    // Every keyring command refuses, and says how to go on.
    let accept = Some(lockbox::vault::Remedy::AcceptRestore { tenant: "acme".into() });
    assert_eq!(integrity(refresh_manifest(&vault, &mut w.keyring, "acme"), "rolled back").remedy, accept);
    assert_eq!(
        integrity(lockbox::customer::resync(&vault, &mut w.keyring, "acme"), "rolled back").remedy,
        accept
    );
    let gap = restore_gap(&vault, &mut w.keyring, "acme").unwrap();
    assert!(gap.vault_seq < gap.keyring_seq, "{gap:?}");
    assert_eq!(gap.released, vec![("internal".to_string(), 1)]);
    assert_eq!(
        gap.rotations,
        vec![("extra".to_string(), 0, 2), ("internal".to_string(), 1, 3)],
        "past the lost epoch 2 too; the level added later comes back past its lost epoch"
    );
    assert!(gap.lost_entries > 0, "{gap:?}");
    assert!(matches!(gap.anchored, lockbox::customer::Anchor::RestoredCheckpoint { .. }), "{gap:?}");
    // What is signed is what was shown, or nothing.
    let other = lockbox::customer::RestoreGap { rotations: Vec::new(), ..gap.clone() };
    assert_eq!(accept_restore(&vault, &mut w.keyring, "acme", &other).unwrap_err().kind, ErrorKind::Conflict);
    accept_restore(&vault, &mut w.keyring, "acme", &gap).unwrap();
    drop(vault);
    assert_eq!(w.vault().current_epoch("acme", "internal").unwrap(), 3);
    assert_eq!(w.vault().current_epoch("acme", "extra").unwrap(), 2);
    // The writer, who saw the lost manifests, takes the new one; the released key is not used.
    w.put("after", "internal").unwrap();
    assert_eq!(w.item_header("after").key_epoch, 3);
    let vault = w.vault.clone().unwrap();
    refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    assert_eq!(lockbox::customer::check_keyring(&vault, &mut w.keyring).unwrap(), Vec::<String>::new());
    let logged = vault.audit_entries(Some("acme")).unwrap();
    assert!(logged.iter().any(|e| e.action() == "tenant.accept-restore"));
    // Nothing more to accept now.
    assert_eq!(restore_gap(&vault, &mut w.keyring, "acme").unwrap_err().kind, ErrorKind::Conflict);
}

#[test]
fn a_restored_log_rewritten_under_a_checkpoint_of_the_customers_is_not_accepted() {
    let mut w = World::new();
    w.put("old", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::checkpoint(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    let backup = w.snapshot("backup.redb");
    w.put("more", "internal").unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    drop(vault);
    w.restore(&backup);
    // The "backup" the operator hands over has its history rewritten, every hash recomputed.
    rewrite_log(&mut w, |es| {
        let put = es.iter_mut().find(|e| e.action() == "put").unwrap();
        let lockbox::audit::Event::Put(stored) = &mut put.event else { unreachable!() };
        stored.size += 1;
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::restore_gap(&vault, &mut w.keyring, "acme"),
        "rewritten before the checkpoint",
    );
}

#[test]
fn a_restored_keyring_with_the_vault_rolled_back_to_match_is_caught_by_the_monitor() {
    let (mut w, mut monitor) = monitored();
    let keyring_copy = w.dir.path().join("keyring.copy");
    std::fs::copy(w.keyring.path(), &keyring_copy).unwrap();
    let vault_copy = w.snapshot("vault.copy");
    let (id, digest) = w.request(&["internal"], 3600);
    w.approve(&id, Some(&digest)).unwrap();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme").unwrap();
    drop(vault);
    w.put("seen", "internal").unwrap();
    // The customer restores an old keyring; the operator rolls the vault back to match it.
    std::fs::copy(&keyring_copy, w.keyring.path()).unwrap();
    w.keyring = Keyring::open(w.keyring.path(), &Passphrase::new("pw".into())).unwrap();
    w.restore(&vault_copy);
    let vault = w.vault.clone().unwrap();
    // The keyring sees nothing wrong and signs: the released epoch would be current again...
    lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme").unwrap();
    // ...but the monitor keeps its own state outside the vault.
    integrity(lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme"), "cut back");
    // Only its owner's explicit restart (after a restore the customer accepted) moves it on.
    let fp = tenant_fingerprint(&w.tenant().signer);
    lockbox::customer::monitor_trust(&vault, &mut monitor, "acme", &fp, true).unwrap();
    lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme").unwrap();
    // And a writer that saw the approval's manifest refuses the one signed in its place.
    drop(vault);
    integrity(w.put("x", "internal"), "a fork");
}

#[test]
fn entries_after_the_customers_checkpoint_are_protected_by_the_monitors() {
    let (mut w, _monitor) = monitored();
    let vault = w.vault.clone().unwrap();
    let seen = lockbox::customer::check_audit(&vault, &mut w.keyring, "acme").unwrap().monitor;
    assert!(matches!(seen, lockbox::customer::MonitorSeen::Checked { .. }), "{seen:?}");
    assert_eq!(seen.stale(vault.now()), None);
    drop(vault);
    // The operator trims the put the customer never checkpointed, recomputing every hash.
    rewrite_log(&mut w, |es| {
        let late = es.iter().rposition(|e| e.action() == "put").unwrap();
        es.remove(late);
    });
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"), "after the monitor signed");
    integrity(
        lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme"),
        "after the monitor signed",
    );
}

#[test]
fn the_monitor_refuses_to_sign_over_a_log_cut_back_or_rewritten() {
    let (mut w, mut monitor) = monitored();
    rewrite_log(&mut w, |es| {
        let late = es.iter().rposition(|e| e.action() == "put").unwrap();
        es.truncate(late);
    });
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme"), "cut back");
    drop(vault);
    let (mut w, mut monitor) = monitored();
    rewrite_log(&mut w, |es| {
        let late = es.iter().rposition(|e| e.action() == "put").unwrap();
        es[late].actor = "nobody".into();
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme"),
        "rewritten before the checkpoint",
    );
}

#[test]
fn a_withheld_forged_or_stale_monitor_checkpoint_is_reported() {
    use lockbox::customer::MonitorSeen;
    let (mut w, monitor) = monitored();
    // Withheld: the operator removes it.
    drop(w.vault.take());
    {
        let store = RedbStore::open(&w.db()).unwrap();
        let tx = store.begin_raw_write().unwrap();
        assert!(tx.remove(Table::Meta, b"monitor\0acme").unwrap());
        tx.commit().unwrap();
    }
    w.reopen();
    let vault = w.vault.clone().unwrap();
    let seen = lockbox::customer::check_audit(&vault, &mut w.keyring, "acme").unwrap().monitor;
    assert!(matches!(seen, MonitorSeen::Missing { .. }), "{seen:?}");
    assert!(seen.stale(vault.now()).unwrap().contains("no checkpoint"));
    drop(vault);
    // Forged: a checkpoint of the chain as it is, signed by a key the manifest does not name.
    let forger = SigningKey::generate().unwrap();
    let (size, head) = {
        let entries = w.vault().audit_entries(Some("acme")).unwrap();
        let last = entries.last().unwrap();
        (last.chain, last.hash)
    };
    let c = lockbox::format::Checkpoint {
        origin: origin(&w.vault().id(), "acme"),
        size,
        head,
        time: w.vault().now(),
        manifest: None,
    };
    // It names the monitor key's hash, so only the signature itself can refuse it.
    let named = monitor.signing().public();
    let forged = SignedNote {
        key_hash: lockbox::crypto::note_key_hash(&c.origin, &named),
        ..sign_note(&forger, &c.origin, c.encode())
    };
    w.operator(|tx| tx.put_monitor_checkpoint("acme", &forged.encode()).unwrap());
    let vault = w.vault.clone().unwrap();
    let seen = lockbox::customer::check_audit(&vault, &mut w.keyring, "acme").unwrap().monitor;
    match &seen {
        MonitorSeen::Missing { missing, .. } => assert!(missing.contains("does not verify"), "{missing}"),
        other => panic!("{other:?}"),
    }
    drop(vault);
    // Stale: a genuine one, read more than an interval after it was signed.
    let (mut w, _monitor) = monitored();
    let vault = w.vault.clone().unwrap();
    let seen = lockbox::customer::check_audit(&vault, &mut w.keyring, "acme").unwrap().monitor;
    let MonitorSeen::Checked { time, interval_secs, .. } = seen else { panic!("{seen:?}") };
    let skew = lockbox::customer::CLOCK_SKEW_SECS;
    assert_eq!(seen.stale(time + interval_secs + skew), None, "within its interval and the skew");
    assert!(seen.stale(time + interval_secs + skew + 1).unwrap().contains("more than its interval"));
}

#[test]
fn a_monitor_key_signs_checkpoints_and_nothing_else() {
    let (mut w, monitor) = monitored();
    // A manifest signed by the monitor key, slipped into the record: writers and the keyring
    // verify manifests under the tenant key only.
    let record = w.tenant();
    let mut m = Manifest::decode(&SignedNote::decode(&record.manifest).unwrap().body).unwrap();
    m.prev = lockbox::vault::manifest_hash(&record.manifest);
    m.seq += 1;
    let forged = sign_note(monitor.signing(), &m.origin, m.encode()).encode();
    w.operator(|tx| tx.put_tenant(&TenantRecord { manifest: forged, ..record }).unwrap());
    integrity(w.put("x", "internal"), "does not verify");
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::refresh_manifest(&vault, &mut w.keyring, "acme"), "does not verify");
    drop(vault);
    // And a monitor the newest manifest does not name signs nothing.
    let (mut w, _) = monitored();
    let vault = w.vault.clone().unwrap();
    lockbox::customer::set_monitor(&vault, &mut w.keyring, "acme", None).unwrap();
    let path = w.dir.path().join("acme.monitor");
    let mut monitor = lockbox::keyring::MonitorKey::open(&path, &Passphrase::new("m".into())).unwrap();
    let e = lockbox::customer::monitor_checkpoint(&vault, &mut monitor, "acme").unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
    assert!(e.message.contains("does not name this monitor key"), "{e}");
}

/// The operator shows the monitor an older copy of the file (without the newest entries), lets
/// it sign, then puts the newer file back with that checkpoint in it.
#[test]
fn entries_hidden_from_the_monitor_are_caught_by_their_time() {
    let (mut w, mut monitor) = monitored();
    let older = std::fs::read(w.db()).unwrap();
    w.put("hidden", "internal").unwrap();
    drop(w.vault.take());
    let newer = std::fs::read(w.db()).unwrap();
    std::fs::write(w.db(), &older).unwrap();
    w.reopen();
    // The monitor's run ten minutes later, on the older file.
    let later = w.vault().now() + 600;
    let at_monitor = w.vault().acting_as(Caller::at("monitor", later));
    lockbox::customer::monitor_checkpoint(&at_monitor, &mut monitor, "acme").unwrap();
    let note = w.vault().monitor_checkpoint("acme").unwrap().unwrap();
    drop(at_monitor);
    drop(w.vault.take());
    std::fs::write(w.db(), &newer).unwrap();
    w.reopen();
    w.operator(|tx| tx.put_monitor_checkpoint("acme", &note).unwrap());
    let at_customer = w.vault().acting_as(Caller::at("alice", later));
    integrity(
        lockbox::customer::check_audit(&at_customer, &mut w.keyring, "acme"),
        "the vault hid it from the monitor",
    );
}

#[test]
fn a_monitor_checkpoint_from_the_future_or_far_behind_the_log_is_refused() {
    use lockbox::customer::MonitorSeen;
    let (mut w, mut monitor) = monitored();
    let ahead = w.vault().acting_as(Caller::at("monitor", w.vault().now() + 1000));
    lockbox::customer::monitor_checkpoint(&ahead, &mut monitor, "acme").unwrap();
    drop(ahead);
    let vault = w.vault.clone().unwrap();
    integrity(lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"), "signed in the future");
    // Fresh, but an entry after it is older than the interval: the monitor is shown an old log.
    let seen =
        MonitorSeen::Checked { interval_secs: 3600, time: 10_000, size: 5, oldest_uncovered: Some(9_000) };
    assert_eq!(seen.stale(9_000 + 3600 + 300), None, "within interval and skew");
    assert!(seen.stale(9_000 + 3600 + 301).unwrap().contains("older log"));
}

#[test]
fn a_planted_tenant_deletion_does_not_hide_what_came_before_it() {
    let mut w = checkpointed();
    rewrite_log(&mut w, |es| {
        // A forged approval, then a deletion and the genuine manifests logged again after it.
        let mut forged = es.iter().rfind(|e| e.action() == "put").unwrap().clone();
        forged.event = lockbox::audit::Event::RequestApprove {
            grant: [0xab; 16],
            engineer: "eve".into(),
            levels: vec![("internal".into(), 1)],
            duration_secs: 3600,
        };
        let mut delete = forged.clone();
        delete.event = lockbox::audit::Event::TenantDelete { items_erased: 0, closed: Default::default() };
        let manifests: Vec<_> = es.iter().filter(|e| e.action() == "manifest").cloned().collect();
        es.push(forged);
        es.push(delete);
        es.extend(manifests);
    });
    let vault = w.vault.clone().unwrap();
    integrity(
        lockbox::customer::check_audit(&vault, &mut w.keyring, "acme"),
        "the deletion entry was planted",
    );
}
