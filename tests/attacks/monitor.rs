//! The audit monitor and restored vaults with the operator as the attacker: hidden, forged
//! or stale monitor checkpoints, vaults and keyrings rolled back to match.

use std::io::Cursor;
use std::sync::Arc;

use lockbox::crypto::{SigningKey, sign_note, tenant_fingerprint};
use lockbox::format::{Manifest, SignedNote, origin};
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::store::RedbStore;
use lockbox::store::raw::{RawWrite, Table};
use lockbox::store::records::TenantRecord;
use lockbox::trust::Pins;
use lockbox::vault::{Caller, ErrorKind, PutOptions, Vault};

use crate::world::*;

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
