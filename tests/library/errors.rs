//! The vault's error keeps the lower layer's error it came from.

use std::error::Error as _;

use lockbox::format::KdfParams;
use lockbox::keyring::{Keyring, KeyringError, Passphrase};
use lockbox::store::StoreError;
use lockbox::vault::{Error, ErrorKind, Vault};

#[test]
fn the_cause_is_kept_beside_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let cheap = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
    let path = dir.path().join("k");
    Keyring::create(&path, &Passphrase::new("right".into()), cheap).unwrap().save().unwrap();
    let e: Error = Keyring::open(&path, &Passphrase::new("wrong".into())).map(drop).unwrap_err().into();
    assert_eq!(e.kind, ErrorKind::AccessDenied);
    let cause = e.source().and_then(|s| s.downcast_ref::<KeyringError>());
    assert!(matches!(cause, Some(KeyringError::WrongPassphrase { .. })), "{e:?}");

    // Shared by any number of handles, until one takes the file alone (as compaction does).
    let shared = Vault::init(&dir.path().join("v")).unwrap();
    let again = Vault::open(&dir.path().join("v")).unwrap();
    assert_eq!(shared.id(), again.id());
    let e = Vault::compact(&dir.path().join("v")).map(drop).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InUse);
    assert!(e.message.contains("open in another lockbox process"), "{e}");
    drop((shared, again));
    let db = dir.path().join("v").join(lockbox::vault::DB_FILE);
    let _alone = lockbox::store::RedbStore::open_alone(&db).unwrap();
    let e = Vault::open(&dir.path().join("v")).map(drop).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InUse);
    assert!(e.message.contains("held by another lockbox process alone"), "{e}");
    assert!(matches!(
        e.source().and_then(|s| s.downcast_ref::<StoreError>()),
        Some(StoreError::InUse { .. })
    ));

    // A reworded or prefixed error keeps its kind and cause.
    let e = e.context("while opening");
    assert!(e.message.starts_with("while opening: "));
    assert!(e.source().is_some());
    assert!(Error::usage("plain").source().is_none());
}
