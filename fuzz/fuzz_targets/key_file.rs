//! Key file containers (keyring and identity): canonical round trip, limits before allocation.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::KeyFile;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = KeyFile::decode(data) {
        assert_eq!(f.encode(), data);
        assert!(f.kdf.check().is_ok());
    }
});
