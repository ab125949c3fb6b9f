//! Who acts and when comes from the caller, never from the library's environment.

use lockbox::keyring::{Keyring, Passphrase};
use lockbox::lockbox::NewRequest;
use lockbox::vault::{Caller, Vault};

use crate::kit::CHEAP;
use lockbox::lockbox::Workflow;

#[test]
fn a_fixed_clock_dates_records_and_decides_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap();
    // The library names nobody by itself: no $USER, no LOCKBOX_ACTOR.
    assert_eq!(vault.actor(), "unknown");
    let alice = vault.acting_as(Caller::at("alice", 1_000_000));
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    let tenant = lockbox::customer::create_tenant(&alice, &mut keyring, "acme", &["secret".into()]).unwrap();
    assert_eq!(tenant.created, 1_000_000);
    Workflow::new(&alice)
        .enroll_engineer("eve", &dir.path().join("eve.id"), &Passphrase::new("pw".into()), CHEAP)
        .unwrap();
    let levels = vec!["secret".to_string()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "c",
        duration_secs: Some(60),
    };
    let eve = alice.acting_as(Caller::at("eve", 1_000_000));
    let request = Workflow::new(&eve).create_request(&req).unwrap();
    assert_eq!((request.created, request.expires), (1_000_000, 1_000_000 + 12 * 3600));
    // Past its TTL by the caller's clock, the request is expired: approval is refused.
    let later = alice.acting_as(Caller::at("alice", 1_000_000 + 12 * 3600));
    let id = lockbox::lockbox::id_hex(&request.id);
    assert_eq!(Workflow::new(&later).request(&id).unwrap().1.name(), "expired");
    let e = lockbox::customer::approve_request(
        &later,
        &mut keyring,
        &id,
        None,
        None,
        lockbox::customer::Confirmation::EngineersDigest(
            lockbox::customer::shown_digest(&later, &id).unwrap(),
        ),
    )
    .unwrap_err();
    assert_eq!(e.kind, lockbox::vault::ErrorKind::Conflict, "{e}");
    assert!(e.message.contains("expired"), "{e}");
    let entries = later.audit_entries(Some("acme")).unwrap();
    let who: Vec<(&str, u64)> = entries.iter().map(|e| (e.actor.as_str(), e.time)).collect();
    // tenant.create and its first manifest, then the request.
    assert_eq!(who, [("alice", 1_000_000), ("alice", 1_000_000), ("eve", 1_000_000)]);
}
