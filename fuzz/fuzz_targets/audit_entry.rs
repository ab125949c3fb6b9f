//! Audit entries: canonical round trip, and hashing any decodable entry never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::audit::Entry;
use lockbox::store::codec;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = codec::decode::<Entry>("audit entry", data) {
        assert_eq!(codec::encode("audit entry", &e).unwrap(), data);
        let _ = e.compute_hash();
    }
});
