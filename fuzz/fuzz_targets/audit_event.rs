//! Typed audit events: what decodes re-encodes to the same bytes, and has a name.
#![no_main]
use libfuzzer_sys::fuzz_target;
use lockbox::format::AuditEvent;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = AuditEvent::decode(data) {
        assert_eq!(e.encode().unwrap(), data);
        assert!(AuditEvent::actions().contains(&e.action()));
    }
});
