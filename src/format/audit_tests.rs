//! Tests of `audit.rs`: round trips, strictness, limits.

use super::*;

#[test]
fn every_kind_round_trips_and_is_named() {
    let samples = samples();
    assert_eq!(samples.len(), ACTIONS.len());
    for (i, e) in samples.iter().enumerate() {
        assert_eq!(e.action(), ACTIONS[i]);
        let bytes = e.encode().unwrap();
        assert_eq!(bytes[0] as usize, i + 1);
        assert_eq!(AuditEvent::decode(&bytes).unwrap(), *e, "{}", e.action());
        assert!(AuditEvent::decode(&[&bytes[..], &[0]].concat()).is_err());
        assert!(AuditEvent::decode(&bytes[..bytes.len() - 1]).is_err() || bytes.len() == 1);
    }
}

#[test]
fn strict_decoding() {
    assert!(AuditEvent::decode(&[]).is_err());
    assert!(AuditEvent::decode(&[0]).is_err());
    assert!(AuditEvent::decode(&[30]).is_err());
    // A replaced flag of 2.
    let mut put = AuditEvent::Put(Stored {
        level: "secret".into(),
        epoch: 1,
        size: 0,
        replaced: false,
        manifest: [0; 32],
        header: [0; 32],
    })
    .encode()
    .unwrap();
    put[1 + 1 + 6 + 4 + 8] = 2;
    assert!(matches!(AuditEvent::decode(&put), Err(FormatError::NonCanonical { .. })));
    // A list count larger than the bytes that follow is refused before allocating.
    let mut big = vec![17];
    big.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(AuditEvent::decode(&big).is_err());
    // A bad level name: refused when decoding, and never written either.
    let good = AuditEvent::Get { level: "abc".into(), key_epoch: 1 }.encode().unwrap();
    let bad = [&good[..2], b"A", &good[3..]].concat();
    assert!(AuditEvent::decode(&bad).is_err());
    assert!(AuditEvent::Get { level: "Not A Name".into(), key_epoch: 1 }.encode().is_err());
}

#[test]
fn an_over_long_field_is_refused_when_encoding() {
    let long = AuditEvent::RequestDeny { reason: "x".repeat(MAX_TEXT_LEN + 1) };
    assert!(long.encode().is_err());
    let many = AuditEvent::ImportItems {
        items: (0..MAX_LOGGED_LEN / 35 + 1).map(|_| Logged { header: [0; 32], item: "a".into() }).collect(),
    };
    assert!(many.encode().is_err());
}
