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
    // A list count within its limit but larger than the bytes that follow can hold is refused
    // before allocating (and a count over its limit, before that).
    let mut short = vec![17];
    short.extend_from_slice(&100u32.to_be_bytes());
    assert!(matches!(AuditEvent::decode(&short), Err(FormatError::Truncated { .. })));
    let mut big = vec![17];
    big.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(AuditEvent::decode(&big), Err(FormatError::OutOfRange { .. })));
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

#[test]
fn a_removal_of_more_than_the_limit_is_one_entry_with_its_totals() {
    let many: Vec<[u8; 16]> = (0..MAX_CLOSED_IDS as u32 + 5)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            id
        })
        .collect();
    let closed = Closed::of(&many[..3], &many);
    assert_eq!((closed.grants_total, closed.grants_revoked.len()), (3, 3));
    assert_eq!((closed.requests_total, closed.requests_denied.len()), (many.len() as u64, MAX_CLOSED_IDS));
    let e = AuditEvent::EngineerRemove { closed: closed.clone() };
    assert_eq!(AuditEvent::decode(&e.encode().unwrap()).unwrap(), e);
    // A list shorter than its total allows is not canonical, either way.
    let mut cut = closed.clone();
    cut.requests_denied.pop();
    assert!(AuditEvent::EngineerRemove { closed: cut }.encode().is_err());
    let mut bytes = AuditEvent::EngineerRemove { closed: Closed::of(&[[1; 16]], &[]) }.encode().unwrap();
    bytes[1 + 7] = 2; // grants total 2, one listed
    assert!(matches!(AuditEvent::decode(&bytes), Err(FormatError::NonCanonical { .. })));
}
