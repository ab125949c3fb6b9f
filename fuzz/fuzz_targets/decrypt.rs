//! Mutated envelopes opened with the right key: the only outcomes allowed are the original
//! plaintext (the seeds' content is byte i = 7 i mod 256) or an integrity failure; "access
//! denied" only when the envelope names a key epoch the reader does not hold.
#![no_main]
use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use lockbox::crypto::{SecretKey, Unwrapper};
use lockbox::format::Header;
use lockbox::vault::{Error, ErrorKind, LevelKeys, open_envelope};

/// The key of tests/vectors and of the seeds: tenant acme, level secret, epoch 1.
struct VectorKey;

impl LevelKeys for VectorKey {
    fn unwrapper(&self, h: &Header) -> Result<Box<dyn lockbox::crypto::KeyUnwrap + '_>, Error> {
        if (h.tenant.as_str(), h.level.as_str(), h.key_epoch) == ("acme", "secret", 1) {
            Ok(Box::new(Unwrapper::new(&SecretKey::from_bytes(&[0x11; 32]))))
        } else {
            Err(Error::denied("no key"))
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    match open_envelope(&mut Cursor::new(data), &VectorKey, &mut out) {
        Ok(h) => {
            assert_eq!((h.tenant.as_str(), h.level.as_str()), ("acme", "secret"));
            assert!(out.iter().enumerate().all(|(i, b)| *b == (i * 7 % 256) as u8), "wrong plaintext");
        }
        Err(e) => assert!(matches!(e.kind, ErrorKind::Integrity | ErrorKind::AccessDenied), "{e}"),
    }
});
