//! Keys and approvals with the operator as the attacker: swapped engineer keys, edited
//! requests, rolled-back records and files, substituted level keys, forged statements.

use std::io::Cursor;

use lockbox::crypto::{SecretKey, SigningKey, fingerprint, sign_note, tenant_fingerprint};
use lockbox::customer::Confirmation;
use lockbox::format::{Manifest, SignedNote, origin};
use lockbox::keyring::{KeyState, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, request_digest};
use lockbox::store::RedbStore;
use lockbox::store::raw::{RawWrite, Table};
use lockbox::store::records::{GrantRecord, RequestRecord};
use lockbox::vault::{Caller, DB_FILE, ErrorKind, PutOptions, Vault};

use crate::kit::CHEAP;
use crate::world::*;
use lockbox::lockbox::Workflow;

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
    assert!(
        Workflow::new(w.vault()).grants(None, None).unwrap().is_empty(),
        "no grant, so no blob to the operator"
    );
    assert_eq!(Workflow::new(w.vault()).request(&id).unwrap().1.name(), "pending");
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
    assert_eq!(Workflow::new(w.vault()).grants(None, None).unwrap().len(), 1, "only the first, honest grant");
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
    assert!(Workflow::new(w.vault()).grants(None, None).unwrap().is_empty());
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
    let e = Workflow::new(&w.engineer()).file_request(&req, &w.eve.secret.public().0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AccessDenied, "{e}");
    assert!(Workflow::new(w.vault()).requests(None, None).unwrap().is_empty(), "nothing filed");
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
        assert!(Workflow::new(w.vault()).grants(None, None).unwrap().is_empty());
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
    let edited = Workflow::new(w.vault()).request(&id).unwrap().0;
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
