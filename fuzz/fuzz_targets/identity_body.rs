//! Decrypted identity bodies.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::IdentityBody;

fuzz_target!(|data: &[u8]| {
    if let Ok(b) = IdentityBody::decode(data) {
        assert_eq!(&b.encode().unwrap()[..], data);
    }
});
