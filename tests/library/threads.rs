//! Every pipeline gives the same results on one thread as on two.

use std::io::Cursor;

use lockbox::format::KdfParams;
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::vault::{PutOptions, Threads, Vault};

#[test]
fn one_thread_or_two_the_same_items_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let cheap = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), cheap).unwrap();
    // Over STAGE_BYTES, so that put stages groups through the pipeline.
    let big: Vec<u8> = (0..(9u32 << 20)).map(|i| (i % 251) as u8).collect();
    for (n, threads) in [Threads::One, Threads::Two].into_iter().enumerate() {
        let vault = Vault::in_memory().with_threads(threads);
        lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["secret".into()]).unwrap();
        vault.put("acme", "big", "secret", &mut Cursor::new(&big), PutOptions::default()).unwrap();
        for i in 0..70 {
            let id = format!("small/{i}");
            vault.put("acme", &id, "secret", &mut Cursor::new(id.as_bytes()), PutOptions::default()).unwrap();
        }
        let mut out = Vec::new();
        vault.get("acme", "big", &keyring, &mut out).unwrap();
        assert!(out == big, "{threads:?}: get gave other bytes");
        let to = dir.path().join(format!("out{n}"));
        let r = vault.export_dir("acme", &keyring, &to, false, &mut |_, _| {}).unwrap();
        assert_eq!((r.items, r.skipped.len()), (71, 0), "{threads:?}");
        assert_eq!(std::fs::read(to.join("small/69")).unwrap(), b"small/69");
        assert!(std::fs::read(to.join("big")).unwrap() == big);
        assert!(vault.verify(None, Some(&keyring)).unwrap().problems.is_empty());
    }
}
