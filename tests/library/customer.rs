//! Prepare, then commit: the customer's keyring prepares each change, the vault commits public
//! material only and re-checks what the customer read. Each test changes the vault between
//! the two steps, as a concurrent writer or the operator (through the store API) would, and
//! shows that the commit refuses and changes nothing.

use std::io::Cursor;

use lockbox::customer::{prepare_approval, prepare_rotation};
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, RequestStatus, id_hex};
use lockbox::vault::{Caller, ErrorKind, NewEpoch, PutOptions, Vault};

use crate::kit::{CHEAP, Engine, Operator};
use lockbox::lockbox::Workflow;

struct World {
    /// Keyring and identity files; the vault too, on redb.
    _dir: tempfile::TempDir,
    engine: Engine,
    vault: Option<Vault>,
    keyring: Keyring,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::new(dir.path());
        let mut vault = Vault::init(&engine.location()).unwrap();
        vault.set_actor("alice");
        let pass = Passphrase::new("pw".into());
        let mut keyring = Keyring::create(&dir.path().join("acme.keyring"), &pass, CHEAP).unwrap();
        let levels: Vec<String> = ["internal", "secret"].map(String::from).to_vec();
        lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &levels).unwrap();
        Workflow::new(&vault).enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap();
        let w = World { _dir: dir, engine, vault: Some(vault), keyring };
        w.put("s1", "secret");
        w.put("s2", "secret");
        w
    }

    fn vault(&self) -> &Vault {
        self.vault.as_ref().unwrap()
    }

    fn put(&self, item: &str, level: &str) {
        let opts = PutOptions { replace: true, ..Default::default() };
        self.vault().put("acme", item, level, &mut Cursor::new(item.as_bytes()), opts).unwrap();
    }

    fn request(&self) -> String {
        let levels = vec!["secret".to_string()];
        let req = NewRequest {
            tenant: "acme",
            engineer: "eve",
            levels: &levels,
            reason: "r",
            case_id: "CS-1",
            duration_secs: Some(600),
        };
        id_hex(&Workflow::new(self.vault()).create_request(&req).unwrap().id)
    }

    /// Runs `f` on a raw write transaction of the store (committed), as the operator who
    /// holds the database would.
    fn as_operator(&mut self, f: impl FnOnce(&dyn Operator)) {
        drop(self.vault.take());
        self.engine.as_operator(f);
        let mut vault = Vault::open(&self.engine.location()).unwrap();
        vault.set_actor("alice");
        self.vault = Some(vault);
    }

    fn epoch(&self, level: &str) -> u32 {
        self.vault().current_epoch("acme", level).unwrap()
    }
}

#[test]
fn a_rewrap_prepared_before_a_new_item_is_refused_and_the_rerun_covers_it() {
    let mut w = World::new();
    let vault = w.vault.take().unwrap();
    let prepared = prepare_rotation(&vault, &mut w.keyring, "acme", "secret", true).unwrap();
    w.vault = Some(vault);
    assert_eq!(prepared.rewrapped.as_ref().unwrap().len(), 2);
    w.put("s3", "secret"); // written under epoch 1 after the customer read the level
    let e = w
        .vault()
        .commit_rotation("acme", &prepared.new, prepared.rewrapped.as_deref(), &prepared.manifest)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert_eq!(w.epoch("secret"), 1, "a refused rotation changed the level");

    // Run again: the key saved for epoch 2 is reused, and every item is re-wrapped to it.
    let vault = w.vault.take().unwrap();
    let r = lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "secret", true).unwrap();
    assert_eq!((r.epoch, r.rewrapped), (2, 3));
    assert_eq!(prepared.new.public, vault.tenant("acme").unwrap().levels[1].epochs[1].public);
    assert!(vault.stale_items("acme", "secret", 2).unwrap().is_empty());
}

#[test]
fn a_rewrapped_header_that_changes_more_than_the_wrap_is_refused() {
    let mut w = World::new();
    let vault = w.vault.take().unwrap();
    let mut prepared = prepare_rotation(&vault, &mut w.keyring, "acme", "secret", true).unwrap();
    let rewrapped = prepared.rewrapped.as_mut().unwrap();
    // Swap the two new headers: each names the other item.
    let first = rewrapped[0].header.clone();
    rewrapped[0].header = rewrapped[1].header.clone();
    rewrapped[1].header = first;
    let e = vault
        .commit_rotation("acme", &prepared.new, prepared.rewrapped.as_deref(), &prepared.manifest)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    // A header left on the old key.
    let mut prepared = prepare_rotation(&vault, &mut w.keyring, "acme", "secret", true).unwrap();
    let r = &mut prepared.rewrapped.as_mut().unwrap()[0];
    r.header = r.old_header.clone();
    let e = vault
        .commit_rotation("acme", &prepared.new, prepared.rewrapped.as_deref(), &prepared.manifest)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    assert_eq!(vault.current_epoch("acme", "secret").unwrap(), 1);
}

#[test]
fn a_rotation_to_an_epoch_other_than_the_next_is_refused() {
    let mut w = World::new();
    let vault = w.vault.take().unwrap();
    let mut prepared = prepare_rotation(&vault, &mut w.keyring, "acme", "internal", false).unwrap();
    prepared.new.epoch = 3;
    let e = vault.commit_rotation("acme", &prepared.new, None, &prepared.manifest).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert_eq!(vault.current_epoch("acme", "internal").unwrap(), 1);
}

#[test]
fn an_approval_is_refused_if_the_engineer_key_changed_after_it_was_prepared() {
    let mut w = World::new();
    let id = w.request();
    let vault = w.vault.take().unwrap();
    let approval = prepare_approval(&vault, &mut w.keyring, &id, None, None, digest_of(&vault, &id)).unwrap();
    w.vault = Some(vault);
    w.as_operator(|tx| {
        let mut eve = tx.engineer("eve").unwrap().unwrap();
        eve.public = [9; 32];
        tx.put_engineer(&eve).unwrap();
    });
    let e = Workflow::new(w.vault()).commit_approval(&approval).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(e.message.contains("engineer's key"), "{e}");
    let (_, status) = Workflow::new(w.vault()).request(&id).unwrap();
    assert_eq!(status, RequestStatus::Pending);
    assert!(Workflow::new(w.vault()).grants(None, None).unwrap().is_empty());
    assert_eq!(w.epoch("secret"), 1);
}

#[test]
fn an_approval_is_refused_if_the_level_moved_on_after_it_was_prepared() {
    let mut w = World::new();
    let id = w.request();
    let vault = w.vault.take().unwrap();
    let approval = prepare_approval(&vault, &mut w.keyring, &id, None, None, digest_of(&vault, &id)).unwrap();
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "secret", false).unwrap();
    let e = Workflow::new(&vault).commit_approval(&approval).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(Workflow::new(&vault).grants(None, None).unwrap().is_empty());
    // Prepared again, it releases epochs 1 and 2 and moves the level to 3.
    let approval = prepare_approval(&vault, &mut w.keyring, &id, None, None, digest_of(&vault, &id)).unwrap();
    let grant = Workflow::new(&vault).commit_approval(&approval).unwrap();
    assert_eq!(grant.levels, vec![("secret".to_string(), 2)]);
    assert_eq!(vault.current_epoch("acme", "secret").unwrap(), 3);
}

#[test]
fn an_approval_is_refused_if_the_request_was_decided_meanwhile() {
    let mut w = World::new();
    let id = w.request();
    let vault = w.vault.take().unwrap();
    let approval = prepare_approval(&vault, &mut w.keyring, &id, None, None, digest_of(&vault, &id)).unwrap();
    Workflow::new(&vault).deny_request(&id, Some("no")).unwrap();
    let e = Workflow::new(&vault).commit_approval(&approval).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(Workflow::new(&vault).grants(None, None).unwrap().is_empty());
    assert_eq!(vault.current_epoch("acme", "secret").unwrap(), 1);
}

#[test]
fn a_rewrap_of_an_item_replaced_meanwhile_is_refused() {
    let mut w = World::new();
    let vault = w.vault.take().unwrap();
    let prepared = prepare_rotation(&vault, &mut w.keyring, "acme", "secret", true).unwrap();
    w.vault = Some(vault);
    w.put("s1", "secret"); // same id, same epoch, a new data key: the count does not change
    let e = w
        .vault()
        .commit_rotation("acme", &prepared.new, prepared.rewrapped.as_deref(), &prepared.manifest)
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert_eq!(w.epoch("secret"), 1);
}

#[test]
fn an_approval_commits_only_as_prepared_by_its_committer_and_only_soon() {
    let mut w = World::new();
    let id = w.request();
    let vault = w.vault.take().unwrap();
    let approval = prepare_approval(&vault, &mut w.keyring, &id, None, None, digest_of(&vault, &id)).unwrap();
    // Another approver named than the one committing.
    let mut renamed = approval.clone();
    renamed.grant.approved_by = "mallory".into();
    assert_eq!(Workflow::new(&vault).commit_approval(&renamed).unwrap_err().kind, ErrorKind::AccessDenied);
    // Committed by the engineer who filed the request.
    let eve = vault.acting_as(Caller::new("eve"));
    let mut as_eve = approval.clone();
    as_eve.grant.approved_by = "eve".into();
    assert_eq!(Workflow::new(&eve).commit_approval(&as_eve).unwrap_err().kind, ErrorKind::AccessDenied);
    // Kept and committed later: its access would start in the past.
    let later = vault.acting_as(Caller::at("alice", approval.grant.created + 301));
    assert_eq!(Workflow::new(&later).commit_approval(&approval).unwrap_err().kind, ErrorKind::Usage);
    // Dated in the future.
    let mut future = approval.clone();
    future.grant.created += 3600;
    future.grant.expires += 3600;
    assert_eq!(Workflow::new(&vault).commit_approval(&future).unwrap_err().kind, ErrorKind::Usage);
    assert!(Workflow::new(&vault).grants(None, None).unwrap().is_empty());
    let first = Workflow::new(&vault).commit_approval(&approval).unwrap();
    // A second request's approval may not reuse (and so overwrite) an existing grant's id.
    w.vault = Some(vault);
    let id2 = w.request();
    let vault = w.vault.take().unwrap();
    let mut second =
        prepare_approval(&vault, &mut w.keyring, &id2, None, None, digest_of(&vault, &id2)).unwrap();
    second.grant.id = first.id;
    assert_eq!(Workflow::new(&vault).commit_approval(&second).unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(Workflow::new(&vault).grants(None, None).unwrap().len(), 1);
}

#[test]
fn a_deletion_proven_against_older_keys_is_refused() {
    let mut w = World::new();
    let vault = w.vault.take().unwrap();
    let current = |v: &Vault| -> Vec<NewEpoch> {
        v.tenant("acme")
            .unwrap()
            .levels
            .iter()
            .map(|l| {
                let e = l.epochs.last().unwrap();
                NewEpoch { level: l.name.clone(), epoch: e.epoch, public: e.public }
            })
            .collect()
    };
    let proven = current(&vault);
    lockbox::customer::rotate_level(&vault, &mut w.keyring, "acme", "secret", false).unwrap();
    assert_eq!(
        Workflow::new(&vault).commit_tenant_delete("acme", &proven).unwrap_err().kind,
        ErrorKind::Conflict
    );
    assert_eq!(vault.list("acme", None).unwrap().len(), 2, "items erased by a refused deletion");
    let removal = Workflow::new(&vault).commit_tenant_delete("acme", &current(&vault)).unwrap();
    assert_eq!(removal.items_erased, 2);
}

/// Eve's digest of request `id`: no key was swapped in these tests, so it is what the vault
/// shows.
fn digest_of(vault: &Vault, id: &str) -> lockbox::customer::Confirmation {
    lockbox::customer::Confirmation::EngineersDigest(lockbox::customer::shown_digest(vault, id).unwrap())
}
