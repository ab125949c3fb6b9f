//! The key files' own tests.

use std::fs;

use super::*;
use crate::crypto::SecretKey;
use crate::format::KdfParams;

const CHEAP: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };

#[test]
fn a_monitor_key_saves_its_pins_and_keeps_its_mark_across_a_new_tenant_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.monitor");
    let pass = Passphrase::new("monitor pass".into());
    let mut m = MonitorKey::create(&path, &pass, CHEAP).unwrap();
    m.pin(&[1; 16], "acme", [2; 32]).unwrap();
    let mark = ManifestMark { seq: 7, hash: [3; 32] };
    m.set_mark(&[1; 16], "acme", mark);
    m.pin(&[1; 16], "acme", [4; 32]).unwrap();
    m.save().unwrap();
    let again = MonitorKey::open(&path, &pass).unwrap();
    let t = again.tenant(&[1; 16], "acme").unwrap();
    assert_eq!((t.signer, t.mark), ([4; 32], mark));
    assert_eq!(again.signing().public(), m.signing().public());
    assert!(again.tenant(&[2; 16], "acme").is_none(), "another vault");
    assert!(matches!(Keyring::open(&path, &pass), Err(KeyringError::WrongKind { .. })));
}

#[test]
fn keyring_saves_reopens_and_refuses_wrong_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.keyring");
    let pass = Passphrase::new("correct horse\n".into());
    let mut ring = Keyring::create(&path, &pass, CHEAP).unwrap();
    ring.for_vault_mut([1; 16]).add_tenant("acme").unwrap();
    let key = SecretKey::generate().unwrap();
    let public = key.public();
    ring.for_vault_mut([1; 16]).insert("acme", "secret", 1, key).unwrap();
    ring.save().unwrap();
    let again = Keyring::open(&path, &Passphrase::new("correct horse".into())).unwrap();
    let (one, two) = (again.for_vault([1; 16]), again.for_vault([2; 16]));
    assert!(two.key("acme", "secret", 1).is_none(), "the same name in another vault");
    assert_eq!(one.key("acme", "secret", 1).unwrap().public(), public);
    assert_eq!(one.tenant("acme").unwrap().state("secret", 1), Some(KeyState::Pending));
    let signer = ring.for_vault([1; 16]).tenant("acme").unwrap().signing().public();
    assert_eq!(one.tenant("acme").unwrap().signing().public(), signer);
    assert!(one.key("acme", "secret", 2).is_none());
    // A reader finds the key by its fingerprint, whichever vault it was made for.
    let fp = public.fingerprint();
    assert_eq!(again.key_by_fingerprint("acme", "secret", 1, &fp).unwrap().public(), public);
    // A damaged fingerprint still finds the key held for that level and epoch (the opener then
    // reports the header damaged); only a level or epoch never held finds nothing.
    assert_eq!(again.key_by_fingerprint("acme", "secret", 1, &[0; 16]).unwrap().public(), public);
    // A damaged epoch: the key the fingerprint names, wherever it is held.
    assert_eq!(again.key_by_fingerprint("acme", "secret", 2, &fp).unwrap().public(), public);
    assert!(again.key_by_fingerprint("acme", "secret", 2, &[0; 16]).is_none());
    assert!(again.key_by_fingerprint("globex", "secret", 1, &fp).is_none());
    let wrong = Keyring::open(&path, &Passphrase::new("wrong".into()));
    assert!(matches!(wrong, Err(KeyringError::WrongPassphrase { .. })));
    assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::WrongKind { .. })));
    assert!(matches!(Keyring::create(&path, &pass, CHEAP), Err(KeyringError::Exists { .. })));
    let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp files left behind");
}

#[test]
fn a_new_passphrase_opens_the_same_keys_and_the_old_one_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (Passphrase::new("old pass".into()), Passphrase::new("new pass".into()));
    let id = dir.path().join("id");
    let eve = Identity::create(&id, "eve", &old, CHEAP).unwrap();
    assert!(matches!(change_passphrase(&id, &new, &new), Err(KeyringError::WrongPassphrase { .. })));
    assert_eq!(change_passphrase(&id, &old, &new).unwrap(), "an engineer identity");
    assert!(matches!(Identity::open(&id, &old), Err(KeyringError::WrongPassphrase { .. })));
    assert_eq!(Identity::open(&id, &new).unwrap().secret.public(), eve.secret.public());
    let ring = dir.path().join("k");
    let mut keyring = Keyring::create(&ring, &old, CHEAP).unwrap();
    keyring.for_vault_mut([1; 16]).add_tenant("acme").unwrap();
    keyring.save().unwrap();
    assert_eq!(change_passphrase(&ring, &old, &new).unwrap(), "a keyring");
    let again = Keyring::open(&ring, &new).unwrap();
    assert!(again.for_vault([1; 16]).tenant("acme").is_some());
    let mut names: Vec<_> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    // The lock files stay (removing one would race with a process about to take it).
    assert_eq!(names, [".id.lock", ".k.lock", "id", "k"], "no temp files left behind");
}

#[test]
fn altered_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id");
    let pass = Passphrase::new("pw".into());
    Identity::create(&path, "eve", &pass, CHEAP).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::WrongPassphrase { .. })));
    bytes[4] = 9;
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::Malformed { .. })));
}
