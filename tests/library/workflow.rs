//! The lockbox workflow through the library: requests, approvals of a subset of levels, grants
//! that expire or are revoked, engineer reads, rotation, and the audit chain under tampering.

use std::io::Cursor;
use std::time::Duration;

use lockbox::audit::{Entry, Verdict};
use lockbox::crypto::{DataKey, ItemKeys, Purpose, SecretKey, Unwrapper, Wrapped};
use lockbox::format::{GrantKeyBlob, Header};
use lockbox::keyring::{Identity, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, RequestStatus, id_hex};
use lockbox::store::raw::Table;
use lockbox::store::records::{GrantRecord, ItemRecord};
use lockbox::store::{Reads, codec};
use lockbox::vault::{ErrorKind, PutOptions, Vault};

use crate::kit::{CHEAP, Engine, Operator};
use lockbox::lockbox::Workflow;

struct World {
    /// Keyring and identity files; the vault too, on redb.
    _dir: tempfile::TempDir,
    engine: Engine,
    vault: Option<Vault>,
    keyring: Keyring,
    eve: Identity,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(dir.path());
        let mut vault = Vault::init(&engine.location()).unwrap();
        vault.set_actor("alice");
        let pass = Passphrase::new("pw".into());
        let mut keyring = Keyring::create(&dir.path().join("acme.keyring"), &pass, CHEAP).unwrap();
        let levels: Vec<String> = ["public", "internal", "secret"].map(String::from).to_vec();
        lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &levels).unwrap();
        Workflow::new(&vault).enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap();
        let eve = Identity::open(&dir.path().join("eve.id"), &pass).unwrap();
        let w = World { _dir: dir, engine, vault: Some(vault), keyring, eve };
        for (item, level) in [("p1", "public"), ("i1", "internal"), ("s1", "secret")] {
            w.put(item, level, format!("{item} before").as_bytes());
        }
        w
    }

    fn vault(&self) -> &Vault {
        self.vault.as_ref().unwrap()
    }

    fn put(&self, item: &str, level: &str, data: &[u8]) {
        let opts = PutOptions { replace: true, ..Default::default() };
        self.vault().put("acme", item, level, &mut Cursor::new(data), opts).unwrap();
    }

    fn request(&self, levels: &[&str], duration: Option<u64>) -> String {
        let levels: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
        let req = NewRequest {
            tenant: "acme",
            engineer: "eve",
            levels: &levels,
            reason: "customer reports data loss",
            case_id: "CS-2026-0001",
            duration_secs: duration,
        };
        id_hex(&Workflow::new(self.vault()).create_request(&req).unwrap().id)
    }

    fn approve(
        &mut self,
        id: &str,
        levels: Option<&[&str]>,
        duration: Option<u64>,
    ) -> Result<String, lockbox::vault::Error> {
        let levels: Option<Vec<String>> = levels.map(|l| l.iter().map(|s| s.to_string()).collect());
        let vault = self.vault.as_ref().unwrap();
        // The digest eve's client printed, from her own key.
        let digest = match Workflow::new(vault).request(id) {
            Ok((r, _)) => {
                lockbox::lockbox::request_digest(&vault.id(), &r, &self.eve.secret.public().0).unwrap()
            }
            Err(_) => [0; 32],
        };
        let confirmed = lockbox::customer::Confirmation::EngineersDigest(digest);
        lockbox::customer::approve_request(
            vault,
            &mut self.keyring,
            id,
            levels.as_deref(),
            duration,
            confirmed,
        )
        .map(|g| id_hex(&g.id))
    }

    fn engineer_get(&self, item: &str) -> Result<Vec<u8>, lockbox::vault::Error> {
        let keys = Workflow::new(self.vault()).engineer_keys(&self.eve, "acme")?;
        let mut out = Vec::new();
        self.vault().get("acme", item, &keys, &mut out).map(|_| out)
    }

    fn customer_get(&self, item: &str) -> Vec<u8> {
        let mut out = Vec::new();
        self.vault().get("acme", item, &self.keyring, &mut out).unwrap();
        out
    }

    /// Closes the vault, runs `f` on a raw write transaction of its store (committed), reopens.
    fn with_store(&mut self, f: impl FnOnce(&dyn Operator)) {
        let pins = self.vault().pins().clone();
        drop(self.vault.take());
        self.engine.as_operator(f);
        let mut vault = Vault::open(&self.engine.location()).unwrap().with_pins(pins);
        vault.set_actor("alice");
        self.vault = Some(vault);
    }
}

fn denied(r: Result<Vec<u8>, lockbox::vault::Error>) -> String {
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
    e.message
}

#[test]
fn approval_releases_only_the_chosen_levels_and_only_items_written_before_it() {
    let mut w = World::new();
    assert!(denied(w.engineer_get("i1")).contains("no grant"));
    let req = w.request(&["public", "internal"], Some(3600));
    assert!(denied(w.engineer_get("i1")).contains("no grant"), "a pending request releases nothing");
    w.approve(&req, Some(&["internal"]), None).unwrap();
    w.put("i2", "internal", b"i2 after");

    assert_eq!(w.engineer_get("i1").unwrap(), b"i1 before");
    let msg = denied(w.engineer_get("p1"));
    assert!(msg.contains("level \"public\" is not released") && msg.contains("release: internal"), "{msg}");
    let msg = denied(w.engineer_get("s1"));
    assert!(msg.contains("level \"secret\" is not released"), "{msg}");
    let msg = denied(w.engineer_get("i2"));
    assert!(msg.contains("after grant") && msg.contains("epoch 2"), "{msg}");
    // The customer still reads everything, old epoch and new.
    assert_eq!(w.customer_get("i2"), b"i2 after");
    assert_eq!(w.customer_get("s1"), b"s1 before");
    let (r, status) = Workflow::new(w.vault()).request(&req).unwrap();
    assert_eq!(status, RequestStatus::Approved);
    assert_eq!(r.decided_by.as_deref(), Some("alice"));
}

#[test]
fn grants_expire_and_can_be_revoked() {
    let mut w = World::new();
    let short = w.request(&["internal"], Some(1));
    w.approve(&short, None, None).unwrap();
    assert_eq!(w.engineer_get("i1").unwrap(), b"i1 before");
    std::thread::sleep(Duration::from_millis(2100));
    assert!(denied(w.engineer_get("i1")).contains("expired"));

    let long = w.request(&["internal"], None);
    let grant = w.approve(&long, None, None).unwrap();
    assert_eq!(w.engineer_get("i1").unwrap(), b"i1 before");
    Workflow::new(w.vault()).revoke_grant(&grant[..8]).unwrap();
    let msg = denied(w.engineer_get("i1"));
    assert!(msg.contains("revoked") && msg.contains("by alice"), "{msg}");
    assert_eq!(Workflow::new(w.vault()).revoke_grant(&grant).unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(Workflow::new(w.vault()).request(&long).unwrap().1, RequestStatus::Revoked);
}

#[test]
fn wrong_states_and_bad_approvals_are_refused() {
    let mut w = World::new();
    let r1 = w.request(&["public", "internal"], Some(600));
    assert_eq!(w.approve(&r1, Some(&["secret"]), None).unwrap_err().kind, ErrorKind::Usage);
    assert_eq!(w.approve(&r1, None, Some(601)).unwrap_err().kind, ErrorKind::Usage);
    w.approve(&r1, None, Some(60)).unwrap();
    assert_eq!(w.approve(&r1, None, None).unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(Workflow::new(w.vault()).deny_request(&r1, None).unwrap_err().kind, ErrorKind::Conflict);

    let r2 = w.request(&["public"], None);
    Workflow::new(w.vault()).deny_request(&r2, Some("not justified")).unwrap();
    let err = w.approve(&r2, None, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("denied"), "{err}");

    assert_eq!(
        w.approve("00112233445566778899aabbccddeeff", None, None).unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(w.approve("zz", None, None).unwrap_err().kind, ErrorKind::Usage);

    // The engineer cannot approve their own request.
    let r3 = w.request(&["public"], None);
    w.vault.as_mut().unwrap().set_actor("eve");
    assert_eq!(w.approve(&r3, None, None).unwrap_err().kind, ErrorKind::AccessDenied);
    w.vault.as_mut().unwrap().set_actor("alice");

    // Longer than the tenant allows.
    let change = lockbox::customer::PolicyChange {
        max_access_secs: Some(120),
        request_ttl_secs: Some(1),
        ..Default::default()
    };
    lockbox::customer::set_policy(w.vault.as_ref().unwrap(), &mut w.keyring, "acme", change).unwrap();
    let levels = vec!["public".to_string()];
    let too_long = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "c",
        duration_secs: Some(121),
    };
    assert_eq!(Workflow::new(w.vault()).create_request(&too_long).unwrap_err().kind, ErrorKind::Usage);
    let unknown = NewRequest { engineer: "mallory", duration_secs: None, ..too_long.clone() };
    assert_eq!(Workflow::new(w.vault()).create_request(&unknown).unwrap_err().kind, ErrorKind::NotFound);

    // An unanswered request expires after the tenant's request TTL (1 s here).
    let r4 = w.request(&["public"], None);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(Workflow::new(w.vault()).request(&r4).unwrap().1, RequestStatus::Expired);
    let err = w.approve(&r4, None, None).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("expired"), "{err}");
    let expired = Workflow::new(w.vault()).requests(Some("acme"), Some(RequestStatus::Expired)).unwrap();
    assert_eq!(expired.len(), 1);
}

#[test]
fn rotate_with_rewrap_keeps_content_and_moves_old_items_out_of_old_grants() {
    let mut w = World::new();
    let req = w.request(&["internal"], None);
    w.approve(&req, None, None).unwrap();
    assert_eq!(w.engineer_get("i1").unwrap(), b"i1 before");
    let mut before = Vec::new();
    w.vault().get_raw("acme", "i1", &mut before).unwrap();
    let rotation =
        lockbox::customer::rotate_level(w.vault.as_ref().unwrap(), &mut w.keyring, "acme", "internal", true)
            .unwrap();
    assert_eq!((rotation.epoch, rotation.rewrapped), (3, 1));
    let mut after = Vec::new();
    w.vault().get_raw("acme", "i1", &mut after).unwrap();
    let header_len = after.len() - "i1 before".len() - 16;
    assert_eq!(before[header_len..], after[header_len..], "content chunks are untouched");
    let header = Header::decode(&after[..header_len]).unwrap();
    assert_eq!((header.epoch, header.key_epoch), (1, 3));
    assert_eq!(w.customer_get("i1"), b"i1 before");
    assert!(denied(w.engineer_get("i1")).contains("re-keyed"));
    // Without rewrap, old items keep their epoch.
    let r =
        lockbox::customer::rotate_level(w.vault.as_ref().unwrap(), &mut w.keyring, "acme", "secret", false)
            .unwrap();
    assert_eq!((r.epoch, r.rewrapped), (2, 0));
    assert_eq!(w.vault().item("acme", "s1").unwrap().key_epoch, 1);
}

#[test]
fn an_engineer_with_every_stored_byte_gets_only_released_pre_approval_keys() {
    let mut w = World::new();
    let req = w.request(&["public", "internal", "secret"], None);
    w.approve(&req, Some(&["public", "internal"]), None).unwrap();
    for (item, level) in [("p2", "public"), ("i2", "internal"), ("s2", "secret")] {
        w.put(item, level, b"written after approval");
    }
    let approval_epoch = 1;
    let eve_secret = SecretKey::from_bytes(&w.eve.secret.to_bytes());
    let mut obtained: Vec<(String, u32, SecretKey)> = Vec::new();
    let mut decrypted: Vec<String> = Vec::new();
    w.with_store(|snapshot| {
        // Every table, every value: try each as a grant record and each key blob in it.
        for table in [
            Table::Grants,
            Table::Requests,
            Table::Tenants,
            Table::Engineers,
            Table::Audit,
            Table::Items,
            Table::Meta,
        ] {
            snapshot
                .scan(table, b"", None, &mut |_, v| {
                    if let Ok(grant) = codec::decode::<GrantRecord>("grant", v) {
                        for blob in grant.keys.iter().filter_map(|b| GrantKeyBlob::decode(b).ok()) {
                            let wrapped = Wrapped { ephemeral: blob.ephemeral, ciphertext: blob.wrapped };
                            if let Ok(k) = Unwrapper::new(&eve_secret).unwrap(
                                Purpose::GrantKey,
                                &blob.context.encode().unwrap(),
                                &wrapped,
                            ) {
                                obtained.push((
                                    blob.context.level.clone(),
                                    blob.context.epoch,
                                    SecretKey::from_bytes(&k),
                                ));
                            }
                        }
                    }
                    Ok(true)
                })
                .unwrap();
        }
        // Every item: try every key obtained, and the engineer's own key, on its data key.
        for (id, item) in snapshot.items("acme").unwrap() {
            let item = item.unwrap();
            let header = Header::decode(&item.header).unwrap();
            let wrapped = Wrapped { ephemeral: header.ephemeral, ciphertext: header.wrapped_dek };
            let candidates = obtained.iter().map(|(_, _, k)| k).chain(std::iter::once(&eve_secret));
            for key in candidates {
                if let Ok(dek) =
                    Unwrapper::new(key).unwrap(Purpose::DataKey, &header.wrap_context().unwrap(), &wrapped)
                {
                    assert!(decrypts(snapshot, &item, &header, DataKey::from_bytes(dek)));
                    decrypted.push(id.clone());
                }
            }
        }
    });
    let mut got: Vec<(String, u32)> = obtained.iter().map(|(l, e, _)| (l.clone(), *e)).collect();
    got.sort();
    assert_eq!(got, vec![("internal".to_string(), approval_epoch), ("public".to_string(), approval_epoch)]);
    decrypted.sort();
    assert_eq!(decrypted, vec!["i1", "p1"], "only released levels, only items written before approval");
}

fn decrypts(r: &dyn Reads, item: &ItemRecord, header: &Header, dek: DataKey) -> bool {
    let keys = ItemKeys::derive(&dek, &header.nonce, &header.content_context().unwrap());
    let Ok(mut opener) = keys.opener(&header.commitment) else { return false };
    (0..item.chunks).all(|i| {
        let mut chunk = match &item.inline {
            Some(inline) => inline.clone(),
            None => r.chunk(&item.blob, i).unwrap().unwrap(),
        };
        opener.open(&mut chunk, i + 1 == item.chunks).is_ok()
    })
}

#[test]
fn a_grant_record_altered_in_the_database_does_not_extend_access() {
    let mut w = World::new();
    let req = w.request(&["internal"], Some(1));
    let grant = w.approve(&req, None, None).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    w.with_store(|tx| {
        let mut id = [0u8; 16];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&grant[2 * i..2 * i + 2], 16).unwrap();
        }
        let mut g = tx.grant(&id).unwrap().unwrap();
        g.expires += 3600;
        tx.put_grant(&g).unwrap();
    });
    // The record's expiry no longer matches the grant the customer signed.
    let err = w.engineer_get("i1").unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    assert!(err.message.contains("not one the customer signed"), "{err}");
}

/// The expiry is also bound into every wrapped key: a key blob whose context names a later
/// expiry (what an operator would need to extend a grant for an honest client) does not
/// unwrap, while the blob as issued does. This is what stops the operator; expiry itself is
/// policy (an engineer who unwrapped the key keeps it).
#[test]
fn a_grant_key_wrap_binds_its_expiry() {
    let mut w = World::new();
    let req = w.request(&["internal"], Some(600));
    let grant = w.approve(&req, None, None).unwrap();
    let (record, _) = Workflow::new(w.vault()).grant(&grant).unwrap();
    assert!(!record.keys.is_empty());
    for bytes in &record.keys {
        let blob = GrantKeyBlob::decode(bytes).unwrap();
        let wrapped = Wrapped { ephemeral: blob.ephemeral, ciphertext: blob.wrapped };
        let mut unwrapper = Unwrapper::new(&w.eve.secret);
        assert!(unwrapper.unwrap(Purpose::GrantKey, &blob.context.encode().unwrap(), &wrapped).is_ok());
        let mut later = blob.context.clone();
        later.expires += 3600;
        assert!(unwrapper.unwrap(Purpose::GrantKey, &later.encode().unwrap(), &wrapped).is_err());
    }
}

fn audit_head(w: &World) -> [u8; 32] {
    match w.vault().verify_audit(None).unwrap() {
        Verdict::Intact { head, .. } => head,
        Verdict::Broken { seq, why } => panic!("broken at {seq}: {why}"),
    }
}

fn tamper(w: &mut World, f: impl FnOnce(&dyn Operator, Vec<Entry>)) -> Verdict {
    w.with_store(|tx| {
        let entries = lockbox::audit::entries(tx, None).unwrap();
        f(tx, entries);
    });
    w.vault().verify_audit(None).unwrap()
}

fn put_entry(tx: &dyn Operator, seq: u64, e: &Entry) {
    tx.put(Table::Audit, &seq.to_be_bytes(), &codec::encode("audit entry", e).unwrap()).unwrap();
}

#[test]
fn audit_chain_detects_edits_deletions_reordering_and_cut_back() {
    let mut w = World::new();
    let req = w.request(&["internal"], None);
    w.approve(&req, None, None).unwrap();
    w.engineer_get("i1").unwrap();
    let entries = w.vault().audit_entries(None).unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e.action()).collect();
    assert_eq!(
        actions,
        [
            "tenant.create",
            "manifest",
            "engineer.enroll",
            "put",
            "put",
            "put",
            "request.create",
            "manifest",
            "request.approve",
            "get"
        ]
    );
    assert_eq!(entries[9].actor, "eve");
    let head_then = audit_head(&w);
    w.put("x", "public", b"later");
    let head_now = audit_head(&w);
    assert!(matches!(w.vault().verify_audit(Some(&head_then)).unwrap(), Verdict::Intact { .. }));

    // Edit: change the approver named in entry 9.
    let v = tamper(&mut w, |tx, es| {
        let mut e = es[8].clone();
        e.actor = "mallory".into();
        put_entry(tx, 9, &e);
    });
    assert!(matches!(v, Verdict::Broken { seq: 9, .. }), "{v:?}");
    tamper(&mut w, |tx, _| put_entry(tx, 9, &entries[8]));
    assert_eq!(audit_head(&w), head_now);

    // Delete entry 4.
    let v = tamper(&mut w, |tx, _| {
        tx.remove(Table::Audit, &4u64.to_be_bytes()).unwrap();
    });
    assert!(matches!(v, Verdict::Broken { seq: 4, .. }), "{v:?}");
    tamper(&mut w, |tx, _| put_entry(tx, 4, &entries[3]));

    // Reorder entries 2 and 3 (each moved to the other's position, keeping its own seq).
    let v = tamper(&mut w, |tx, es| {
        put_entry(tx, 2, &es[2]);
        put_entry(tx, 3, &es[1]);
    });
    assert!(matches!(v, Verdict::Broken { seq: 2, .. }), "{v:?}");
    // Reorder with renumbering: still breaks the links.
    let v = tamper(&mut w, |tx, _| {
        let (mut a, mut b) = (entries[1].clone(), entries[2].clone());
        std::mem::swap(&mut a.seq, &mut b.seq);
        put_entry(tx, 2, &b);
        put_entry(tx, 3, &a);
    });
    assert!(matches!(v, Verdict::Broken { seq: 2, .. }), "{v:?}");
    tamper(&mut w, |tx, _| {
        put_entry(tx, 2, &entries[1]);
        put_entry(tx, 3, &entries[2]);
    });
    assert_eq!(audit_head(&w), head_now);

    // Cut back: remove the newest entry. The chain is consistent, but the head is gone.
    let v = tamper(&mut w, |tx, es| {
        tx.remove(Table::Audit, &es.last().unwrap().seq.to_be_bytes()).unwrap();
    });
    assert!(matches!(v, Verdict::Intact { .. }));
    assert!(matches!(w.vault().verify_audit(Some(&head_now)).unwrap(), Verdict::Broken { .. }));
}
