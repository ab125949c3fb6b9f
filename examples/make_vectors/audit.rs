//! Audit-event vectors.

use std::path::Path;

use serde_json::json;

use super::*;

/// Audit-event vectors: one valid event of every kind (its encoding and action name), bytes a
/// decoder must refuse, and one whole entry with the hash that chains it.
pub fn audit_events(dir: &Path) {
    use lockbox::format::{AuditEvent, audit_samples};
    std::fs::create_dir_all(dir).unwrap();
    for old in std::fs::read_dir(dir).unwrap() {
        std::fs::remove_file(old.unwrap().path()).unwrap();
    }
    let write = |name: &str, v: serde_json::Value| {
        std::fs::write(dir.join(format!("{name}.json")), serde_json::to_string_pretty(&v).unwrap() + "\n")
            .unwrap();
    };
    for event in audit_samples() {
        let name = format!("valid-{}", event.action());
        write(
            &name,
            json!({"name": name, "action": event.action(), "event": hex(&event.encode().unwrap()), "expect": "valid"}),
        );
    }
    let put = audit_samples().into_iter().find(|e| e.action() == "put").unwrap().encode().unwrap();
    let mut flag = put.clone();
    flag[20] = 2;
    let mut bad_level = put.clone();
    bad_level[2] = b'S';
    let invalid: Vec<(&str, &str, Vec<u8>)> = vec![
        ("empty", "no bytes", vec![]),
        ("kind-zero", "kind 0", vec![0]),
        ("kind-unknown", "kind 30", vec![30]),
        ("trailing-byte", "a put with a byte after it", [&put[..], &[0]].concat()),
        ("truncated", "a put without its last byte", put[..put.len() - 1].to_vec()),
        ("flag-two", "a put whose replaced flag is 2", flag),
        ("level-not-canonical", "a put whose level has a capital letter", bad_level),
        (
            "count-over-input",
            "an import.items claiming 100 items, with no bytes for them",
            [&[17u8][..], &100u32.to_be_bytes()].concat(),
        ),
        (
            "text-over-limit",
            "a request.deny whose reason is 16 KiB + 1",
            [&[26u8][..], &(16u32 * 1024 + 1).to_be_bytes(), &vec![b'x'; 16 * 1024 + 1]].concat(),
        ),
    ];
    for (name, what, bytes) in invalid {
        assert!(AuditEvent::decode(&bytes).is_err(), "{name}");
        let name = format!("invalid-{name}");
        write(&name, json!({"name": name, "description": what, "event": hex(&bytes), "expect": "invalid"}));
    }
    // A whole entry: the hash a second implementation must compute from these fields.
    let mut e = lockbox::audit::Entry {
        seq: 7,
        time: 1_795_868_705,
        actor: "alice".into(),
        tenant: "acme".into(),
        subject: "notes.txt".into(),
        event: audit_samples().into_iter().find(|e| e.action() == "put").unwrap(),
        prev: [0x11; 32],
        chain: 3,
        chain_prev: [0x22; 32],
        hash: [0; 32],
    };
    e.hash = e.compute_hash().unwrap();
    write(
        "entry-hash",
        json!({
            "name": "entry-hash", "seq": e.seq, "time": e.time, "actor": e.actor, "tenant": e.tenant,
            "subject": e.subject, "event": hex(&e.event.encode().unwrap()), "prev": hex(&e.prev),
            "chain": e.chain, "chain_prev": hex(&e.chain_prev), "hash": hex(&e.hash),
        }),
    );
}
