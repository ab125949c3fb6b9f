//! The writer's trust store file: strict lines, sorted, canonical.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::{decode_pins, encode_pins};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(pins) = decode_pins(text) {
        assert_eq!(encode_pins(&pins), text);
    }
});
