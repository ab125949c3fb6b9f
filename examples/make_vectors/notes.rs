//! Signed-note vectors: manifests and grants to accept or refuse.

use std::path::Path;

use serde_json::json;

use super::*;

/// The signing key of the signed-note vectors (its 32-byte Ed25519 seed).
pub const SIGNING_SEED: [u8; 32] = [0x55; 32];
/// The seed of a second signer (another key, an audit monitor).
pub const OTHER_SEED: [u8; 32] = [0x56; 32];

pub fn sample_manifest() -> lockbox::format::Manifest {
    use lockbox::format::{Manifest, ManifestLevel, origin};
    Manifest {
        origin: origin(&[0xab; 16], "acme"),
        seq: 2,
        prev: [0x66; 32],
        issued: 1_800_000_000,
        expires: 1_800_604_800,
        max_access_secs: 14_400,
        request_ttl_secs: 43_200,
        monitor: None,
        levels: vec![
            ManifestLevel { name: "internal".into(), epoch: 2, public: public(), released: vec![1] },
            ManifestLevel { name: "secret".into(), epoch: 1, public: [0x77; 32], released: vec![] },
        ],
    }
}

pub fn sample_grant() -> lockbox::format::GrantNote {
    lockbox::format::GrantNote {
        origin: lockbox::format::origin(&[0xab; 16], "acme"),
        grant: [1; 16],
        request: [2; 16],
        digest: [3; 32],
        engineer: "eve".into(),
        engineer_fingerprint: [4; 16],
        not_after: 1_800_003_600,
        manifest_before: [5; 32],
        manifest_after: [6; 32],
        keys: vec![("internal".into(), 1, [7; 16])],
        blobs: [8; 32],
    }
}

/// Signed-note vectors (manifests and grants): the note, the signer's public key, and whether
/// a verifier for that origin must accept it.
pub fn notes(dir: &Path) {
    use lockbox::crypto::{SigningKey, sign_note};
    std::fs::create_dir_all(dir).unwrap();
    let key = SigningKey::from_seed(&SIGNING_SEED);
    let m = sample_manifest();
    let manifest = sign_note(&key, &m.origin, m.encode()).encode();
    let g = sample_grant();
    let grant = sign_note(&key, &g.origin, g.encode()).encode();
    let other = SigningKey::from_seed(&OTHER_SEED);
    let mut cases: Vec<(&str, &str, String, &str)> = vec![
        ("manifest-valid", "a manifest signed by the tenant key", manifest.clone(), "valid"),
        ("grant-valid", "a grant signed by the tenant key", grant.clone(), "valid"),
        (
            "manifest-other-key",
            "signed by another key",
            sign_note(&other, &m.origin, m.encode()).encode(),
            "invalid",
        ),
        (
            "manifest-body-altered",
            "epoch 2 changed to 3 after signing",
            manifest.replace("internal 2 ", "internal 3 "),
            "invalid",
        ),
        (
            "manifest-other-name",
            "the signature line names another origin",
            manifest.replace(&format!("\u{2014} {}", m.origin), &format!("\u{2014} {}x", m.origin)),
            "invalid",
        ),
        (
            "manifest-two-signatures",
            "a second signature line",
            format!("{manifest}{}", manifest.lines().last().unwrap()) + "\n",
            "invalid",
        ),
        (
            "manifest-noncanonical-number",
            "seq written as 02",
            sign_note(&key, &m.origin, m.encode().replace("seq 2", "seq 02")).encode(),
            "invalid",
        ),
        (
            "manifest-unsorted-levels",
            "levels out of order",
            {
                let mut u = m.clone();
                u.levels.reverse();
                sign_note(&key, &m.origin, u.encode()).encode()
            },
            "invalid",
        ),
        (
            "manifest-expires-before-issued",
            "expires before issued",
            {
                let mut u = m.clone();
                u.expires = u.issued;
                sign_note(&key, &m.origin, u.encode()).encode()
            },
            "invalid",
        ),
    ];
    let c = lockbox::format::Checkpoint {
        origin: m.origin.clone(),
        size: 42,
        head: [0x99; 32],
        time: 1_800_000_100,
        manifest: None,
    };
    let checkpoint = sign_note(&key, &c.origin, c.encode()).encode();
    cases.push((
        "checkpoint-valid",
        "an audit checkpoint signed by the tenant key",
        checkpoint.clone(),
        "valid",
    ));
    cases.push((
        "checkpoint-size-altered",
        "size 42 changed to 41 after signing",
        checkpoint.replace("size 42", "size 41"),
        "invalid",
    ));
    let monitored = lockbox::format::Manifest {
        monitor: Some(lockbox::format::ManifestMonitor { public: other.public(), interval_secs: 3600 }),
        ..m.clone()
    };
    cases.push((
        "manifest-monitor-valid",
        "a manifest naming an audit monitor key, every hour",
        sign_note(&key, &m.origin, monitored.encode()).encode(),
        "valid",
    ));
    cases.push((
        "manifest-monitor-interval-too-short",
        "a monitor interval of 59 seconds (the least is 60)",
        sign_note(&key, &m.origin, monitored.encode().replace(" 3600\n", " 59\n")).encode(),
        "invalid",
    ));
    cases.push((
        "checkpoint-by-monitor",
        "an audit checkpoint signed by the monitor key, checked under the tenant key",
        sign_note(&other, &c.origin, c.encode()).encode(),
        "invalid",
    ));
    cases.push((
        "grant-as-manifest",
        "a grant's body under the manifest kind line",
        sign_note(&key, &g.origin, g.encode().replace("lockbox.v1 grant", "lockbox.v1 manifest")).encode(),
        "invalid",
    ));
    for (name, description, note, expect) in cases {
        let v = json!({
            "name": name,
            "description": description,
            "public": hex(&key.public()),
            "seed": hex(&SIGNING_SEED),
            "note": note,
            "expect": expect,
        });
        std::fs::write(dir.join(format!("{name}.json")), serde_json::to_string_pretty(&v).unwrap() + "\n")
            .unwrap();
    }
    // The monitor's own checkpoint, checked under the monitor key the manifest names (its
    // public key is `public`; the manifest naming it is manifest-monitor-valid).
    let named = lockbox::format::Checkpoint { manifest: Some((m.seq, [0x5a; 32])), ..c.clone() };
    let v = json!({
        "name": "checkpoint-monitor-valid",
        "description": "an audit monitor's checkpoint naming a manifest, checked under the monitor key",
        "public": hex(&other.public()),
        "seed": hex(&OTHER_SEED),
        "note": sign_note(&other, &c.origin, named.encode()).encode(),
        "expect": "valid",
    });
    std::fs::write(
        dir.join("checkpoint-monitor-valid.json"),
        serde_json::to_string_pretty(&v).unwrap() + "\n",
    )
    .unwrap();
}
