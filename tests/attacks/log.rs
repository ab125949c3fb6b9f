//! The audit log with the operator as the attacker: logs rewritten, cut back or thinned with
//! every hash recomputed, writes moved or replaced, re-encryption and rewrap.

use std::io::Cursor;
use std::sync::Arc;

use lockbox::crypto::{SigningKey, sign_note, tenant_fingerprint};
use lockbox::format::Header;
use lockbox::store::raw::{RawWrite, Table};
use lockbox::store::{RedbStore, Store};
use lockbox::trust::Pins;
use lockbox::vault::{ErrorKind, PutOptions};

use crate::world::*;
use lockbox::lockbox::Workflow;

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
    let keys = Workflow::new(&engineer).engineer_keys(&w.eve, "acme").unwrap();
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

/// The operator stuffs the per-tenant index: positions past the head all naming one entry, and
/// a position naming another tenant's entry. A keyring command reads none of that as the chain:
/// it stops at the first entry out of place and checks the whole log instead, which is intact.
#[test]
fn an_index_naming_entries_out_of_place_is_not_taken_for_the_chain() {
    let mut w = checkpointed();
    let vault = w.vault.clone().unwrap();
    let id = vault.id();
    drop(vault);
    drop(w.vault.take());
    {
        let store = RedbStore::open(&w.db()).unwrap();
        let tx = store.begin_raw_write().unwrap();
        let es = lockbox::audit::entries(&tx, Some("acme")).unwrap();
        let last = es.last().unwrap();
        assert_eq!(last.chain, 5);
        for position in 6..2006u64 {
            tx.put(
                Table::Meta,
                &lockbox::store::raw::audit_chain_key("acme", position),
                &last.seq.to_be_bytes(),
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    w.reopen();
    let vault = w.vault.clone().unwrap();
    assert_eq!(vault.id(), id);
    assert_eq!(vault.tenant_audit_from("acme", 4).unwrap(), None, "the index is seen to be out of place");
    let check = lockbox::customer::check_audit(&vault, &mut w.keyring, "acme").unwrap();
    assert_eq!((check.size, check.checkpointed), (5, 4), "the real chain, read whole");
}
