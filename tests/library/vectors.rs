//! Runs every test vector in tests/vectors/ (written by `cargo run --example make_vectors`).

use std::collections::BTreeMap;
use std::io::Cursor;

use lockbox::crypto::{SecretKey, Unwrapper};
use lockbox::format::Header;
use lockbox::vault::{Error, LevelKeys, open_envelope};

struct Keys(BTreeMap<(String, String, u32), [u8; 32]>);

impl LevelKeys for Keys {
    fn unwrapper(&self, h: &Header) -> Result<Box<dyn lockbox::crypto::KeyUnwrap + '_>, Error> {
        let key = (h.tenant.clone(), h.level.clone(), h.key_epoch);
        self.0
            .get(&key)
            .map(|k| {
                Box::new(Unwrapper::new(&SecretKey::from_bytes(k))) as Box<dyn lockbox::crypto::KeyUnwrap>
            })
            .ok_or_else(|| Error::denied("access denied: no key for this item"))
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let mut paths: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 40, "expected the full vector set, found {}", paths.len());
    let (mut valid, mut invalid) = (0, 0);
    for path in paths {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        let keys = Keys(
            v["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| {
                    let secret: [u8; 32] = unhex(k["secret"].as_str().unwrap()).try_into().unwrap();
                    let id = (
                        k["tenant"].as_str().unwrap().into(),
                        k["level"].as_str().unwrap().into(),
                        k["epoch"].as_u64().unwrap() as u32,
                    );
                    (id, secret)
                })
                .collect(),
        );
        let envelope = unhex(v["envelope"].as_str().unwrap());
        let mut out = Vec::new();
        let result = open_envelope(&mut Cursor::new(&envelope), &keys, &mut out);
        let expect = &v["expect"];
        if let Some(plain) = expect["plaintext"].as_str() {
            result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(out, unhex(plain), "{name}");
            valid += 1;
        } else {
            let err = result.err().unwrap_or_else(|| panic!("{name}: accepted"));
            assert_eq!(err.kind.name(), expect["error"].as_str().unwrap(), "{name}: {err}");
            let phrase = expect["message_contains"].as_str().unwrap();
            assert!(err.message.contains(phrase), "{name}: {:?} lacks {phrase:?}", err.message);
            invalid += 1;
        }
    }
    assert!(valid >= 7 && invalid >= 30, "{valid} valid, {invalid} invalid");
}

/// The signed-note vectors (tests/vectors/notes/): a verifier for the note's origin, holding
/// the signer's public key, accepts exactly the valid ones, each as the kind its first line
/// names; and signing a valid body again with the vector's seed gives the same note (Ed25519
/// is deterministic), so the bytes are pinned, not only their validity.
#[test]
fn every_signed_note_vector_has_its_expected_outcome() {
    use lockbox::crypto::{SigningKey, sign_note, verify_note};
    use lockbox::format::{Checkpoint, GrantNote, Manifest, SignedNote, note_kind, parse_origin};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/notes");
    let (mut valid, mut invalid) = (0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let public: [u8; 32] = unhex(v["public"].as_str().unwrap()).try_into().unwrap();
        let note = v["note"].as_str().unwrap();
        let accepted = (|| -> Option<()> {
            let n = SignedNote::decode(note).ok()?;
            parse_origin("origin", &n.name).ok()?;
            verify_note(&n, &n.name, &public).ok()?;
            let origin = match note_kind(&n.body)? {
                "manifest" => Manifest::decode(&n.body).ok()?.origin,
                "grant" => GrantNote::decode(&n.body).ok()?.origin,
                "checkpoint" => Checkpoint::decode(&n.body).ok()?.origin,
                _ => return None,
            };
            (origin == n.name).then_some(())
        })()
        .is_some();
        let name = v["name"].as_str().unwrap();
        assert_eq!(accepted, v["expect"] == "valid", "{name}");
        if accepted {
            let seed: [u8; 32] = unhex(v["seed"].as_str().unwrap()).try_into().unwrap();
            let n = SignedNote::decode(note).unwrap();
            assert_eq!(
                sign_note(&SigningKey::from_seed(&seed), &n.name, n.body.clone()).encode(),
                note,
                "{name}"
            );
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(valid >= 3 && invalid >= 9, "{valid} valid, {invalid} invalid");
}

/// The audit-event vectors (tests/vectors/audit/): each valid event decodes to its named action
/// and re-encodes to the same bytes; each invalid one is refused; and the entry vector's hash
/// is the one its fields give.
#[test]
fn every_audit_event_vector_has_its_expected_outcome() {
    use lockbox::format::AuditEvent;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/audit");
    let (mut valid, mut invalid, mut entries) = (0, 0, 0);
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        let bytes = unhex(v["event"].as_str().unwrap());
        if name == "entry-hash" {
            let e = lockbox::audit::Entry {
                seq: v["seq"].as_u64().unwrap(),
                time: v["time"].as_u64().unwrap(),
                actor: v["actor"].as_str().unwrap().into(),
                tenant: v["tenant"].as_str().unwrap().into(),
                subject: v["subject"].as_str().unwrap().into(),
                event: AuditEvent::decode(&bytes).unwrap(),
                prev: unhex(v["prev"].as_str().unwrap()).try_into().unwrap(),
                chain: v["chain"].as_u64().unwrap(),
                chain_prev: unhex(v["chain_prev"].as_str().unwrap()).try_into().unwrap(),
                hash: [0; 32],
            };
            assert_eq!(e.compute_hash().unwrap().to_vec(), unhex(v["hash"].as_str().unwrap()));
            entries += 1;
            continue;
        }
        match AuditEvent::decode(&bytes) {
            Ok(e) => {
                assert_eq!(v["expect"], "valid", "{name}");
                assert_eq!(e.action(), v["action"].as_str().unwrap(), "{name}");
                assert_eq!(e.encode().unwrap(), bytes, "{name}");
                valid += 1;
            }
            Err(_) => {
                assert_eq!(v["expect"], "invalid", "{name}");
                invalid += 1;
            }
        }
    }
    assert_eq!(valid, AuditEvent::actions().len(), "one valid vector per kind");
    assert!(invalid >= 9 && entries == 1, "{invalid} invalid, {entries} entries");
}
