//! Envelope headers: what decodes re-encodes to the same bytes; the declared length agrees.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::{HEADER_FIXED_LEN, Header};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::decode(data) {
        assert_eq!(h.encode().unwrap(), data);
        assert_eq!(Header::declared_len(&data[..HEADER_FIXED_LEN]).unwrap(), data.len());
    }
    if data.len() >= HEADER_FIXED_LEN {
        let _ = Header::declared_len(&data[..HEADER_FIXED_LEN]);
    }
});
