//! Backup files: never a panic or an allocation over the documented limits; what checks out
//! was read to its last byte.
#![no_main]
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use lockbox::store::check_backup;

fuzz_target!(|data: &[u8]| {
    if let Ok(summary) = check_backup(&mut Cursor::new(data)) {
        assert_eq!(summary.bytes, data.len() as u64);
    }
});
