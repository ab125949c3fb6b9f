//! Grant key blobs as stored for engineers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::GrantKeyBlob;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = GrantKeyBlob::decode(data) {
        assert_eq!(b.encode().unwrap(), data);
    }
});
