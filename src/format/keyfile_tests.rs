//! Tests of `keyfile.rs`: round trips, strictness, limits.

use super::*;

fn tenant(name: &str, keys: &[(&str, u32)]) -> KeyringTenant {
    KeyringTenant {
        vault: [1; 16],
        tenant: name.into(),
        signing_seed: Zeroizing::new([2; 32]),
        last: ManifestMark { seq: 3, hash: [4; 32] },
        proposed: ManifestMark::default(),
        checkpoint: ManifestMark { seq: 7, hash: [8; 32] },
        keys: keys
            .iter()
            .map(|(l, e)| KeyringKey {
                level: (*l).into(),
                epoch: *e,
                state: KeyState::Registered,
                secret: Zeroizing::new([*e as u8; 32]),
            })
            .collect(),
        engineers: vec![("eve".into(), [5; 32])],
    }
}

#[test]
fn keyring_body_round_trips_and_must_be_sorted() {
    let body = KeyringBody { tenants: vec![tenant("a", &[("x", 1), ("x", 2)]), tenant("b", &[("a", 1)])] };
    let bytes = body.encode().unwrap();
    assert_eq!(KeyringBody::decode(&bytes).unwrap(), body);
    let unsorted = KeyringBody { tenants: vec![tenant("b", &[]), tenant("a", &[])] };
    assert!(matches!(
        KeyringBody::decode(&unsorted.encode().unwrap()),
        Err(FormatError::NonCanonical { .. })
    ));
    let dup = KeyringBody { tenants: vec![tenant("a", &[("x", 1), ("x", 1)])] };
    assert!(KeyringBody::decode(&dup.encode().unwrap()).is_err());
    let mut bad_mark = tenant("a", &[]);
    bad_mark.proposed.hash = [9; 32];
    assert!(KeyringBody::decode(&KeyringBody { tenants: vec![bad_mark] }.encode().unwrap()).is_err());
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    let mut bytes = (MAX_KEYRING_TENANTS as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0; 10]);
    assert!(matches!(KeyringBody::decode(&bytes), Err(FormatError::Truncated { .. })));
    let bytes = u32::MAX.to_be_bytes();
    assert!(matches!(KeyringBody::decode(&bytes), Err(FormatError::OutOfRange { .. })));
}

#[test]
fn key_file_round_trips_and_checks_kdf_limits() {
    let file = KeyFile {
        version: VERSION,
        kind: KeyFileKind::Identity,
        kdf: KdfParams { memory_kib: 65536, iterations: 3, lanes: 1 },
        salt: [1; 16],
        nonce: [2; 12],
        ciphertext: vec![3; 80],
    };
    let bytes = file.encode();
    assert_eq!(KeyFile::decode(&bytes).unwrap(), file);
    let greedy = KeyFile { kdf: KdfParams { memory_kib: u32::MAX, ..file.kdf }, ..file.clone() };
    assert!(matches!(KeyFile::decode(&greedy.encode()), Err(FormatError::OutOfRange { .. })));
    let old_identity = KeyFile { version: 1, ..file.clone() };
    assert!(KeyFile::decode(&old_identity.encode()).is_ok());
    let old_keyring = KeyFile { version: 1, kind: KeyFileKind::Keyring, ..file };
    assert!(matches!(KeyFile::decode(&old_keyring.encode()), Err(FormatError::UnsupportedVersion { .. })));
}

#[test]
fn monitor_body_is_byte_exact_sorted_and_consistent() {
    let t = |tenant: &str, seq| MonitorTenant {
        vault: [1; 16],
        tenant: tenant.into(),
        signer: [4; 32],
        mark: if seq == 0 { ManifestMark::default() } else { ManifestMark { seq, hash: [3; 32] } },
    };
    let body = MonitorBody { seed: Zeroizing::new([2; 32]), tenants: vec![t("acme", 12)] };
    let bytes = body.encode().unwrap();
    // seed, count 1, vault, "acme", signer, size 12, head: the layout FORMAT.md gives.
    let mut expect = vec![2u8; 32];
    expect.extend_from_slice(&[0, 0, 0, 1]);
    expect.extend_from_slice(&[1; 16]);
    expect.extend_from_slice(b"\x04acme");
    expect.extend_from_slice(&[4; 32]);
    expect.extend_from_slice(&12u64.to_be_bytes());
    expect.extend_from_slice(&[3; 32]);
    assert_eq!(&bytes[..], &expect[..]);
    assert_eq!(MonitorBody::decode(&bytes).unwrap(), body);
    let unsorted = MonitorBody { tenants: vec![t("b", 0), t("a", 0)], ..body.clone() };
    assert!(matches!(
        MonitorBody::decode(&unsorted.encode().unwrap()),
        Err(FormatError::NonCanonical { .. })
    ));
    let twice = MonitorBody { tenants: vec![t("a", 0), t("a", 0)], ..body.clone() };
    assert!(matches!(MonitorBody::decode(&twice.encode().unwrap()), Err(FormatError::NonCanonical { .. })));
    // Sorted by vault first, then tenant.
    let in_vault = |vault: u8, tenant: &str| MonitorTenant { vault: [vault; 16], ..t(tenant, 0) };
    let sorted = MonitorBody { tenants: vec![in_vault(1, "b"), in_vault(2, "a")], ..body.clone() };
    assert_eq!(MonitorBody::decode(&sorted.encode().unwrap()).unwrap(), sorted);
    let by_name = MonitorBody { tenants: vec![in_vault(2, "a"), in_vault(1, "b")], ..body.clone() };
    assert!(matches!(MonitorBody::decode(&by_name.encode().unwrap()), Err(FormatError::NonCanonical { .. })));
    let mut sizeless = bytes.to_vec();
    let size_at = sizeless.len() - 40;
    sizeless[size_at..size_at + 8].fill(0);
    assert!(matches!(MonitorBody::decode(&sizeless), Err(FormatError::NonCanonical { .. })));
    let mut headless = bytes.to_vec();
    let head_at = headless.len() - 32;
    headless[head_at..].fill(0);
    assert!(matches!(MonitorBody::decode(&headless), Err(FormatError::NonCanonical { .. })));
    let mut trailing = bytes.to_vec();
    trailing.push(0);
    assert!(matches!(MonitorBody::decode(&trailing), Err(FormatError::TrailingBytes { .. })));
    // A count within the limit but larger than the bytes left is refused before allocating.
    let mut greedy = bytes.to_vec();
    greedy[32..36].copy_from_slice(&2u32.to_be_bytes());
    greedy.extend_from_slice(&[0; 80]);
    assert!(matches!(MonitorBody::decode(&greedy), Err(FormatError::Truncated { .. })));
    let mut over = vec![2u8; 32];
    over.extend_from_slice(&(MAX_MONITOR_TENANTS as u32 + 1).to_be_bytes());
    assert!(matches!(MonitorBody::decode(&over), Err(FormatError::OutOfRange { .. })));
}

#[test]
fn a_name_over_its_limit_is_refused_not_cut() {
    let long = KeyringBody { tenants: vec![tenant(&"a".repeat(64), &[])] };
    assert!(matches!(long.encode(), Err(FormatError::OutOfRange { .. })));
    let level = KeyringBody { tenants: vec![tenant("a", &[(&"x".repeat(256), 1)])] };
    assert!(level.encode().is_err());
    let id = IdentityBody { engineer: "e".repeat(64), secret: Zeroizing::new([7; 32]) };
    assert!(id.encode().is_err());
}
