//! Decrypted audit monitor key file bodies: tenants sorted and unique, marks consistent,
//! canonical.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::MonitorBody;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = MonitorBody::decode(data) {
        assert_eq!(&b.encode().unwrap()[..], data);
        assert!(b.tenants.windows(2).all(|w| (w[0].vault, &w[0].tenant) < (w[1].vault, &w[1].tenant)));
        assert!(b.tenants.iter().all(|t| (t.mark.seq == 0) == (t.mark.hash == [0; 32])));
    }
});
