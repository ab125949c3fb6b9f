//! Decrypted keyring bodies: sorted, unique, canonical.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::KeyringBody;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = KeyringBody::decode(data) {
        assert_eq!(&b.encode().unwrap()[..], data);
        assert!(b.tenants.windows(2).all(|w| (w[0].vault, &w[0].tenant) < (w[1].vault, &w[1].tenant)));
        for t in &b.tenants {
            assert!(t.keys.windows(2).all(|w| (&w[0].level, w[0].epoch) < (&w[1].level, w[1].epoch)));
        }
    }
});
