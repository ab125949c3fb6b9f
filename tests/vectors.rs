//! Runs every test vector in tests/vectors/ (written by `cargo run --example make_vectors`).

use std::collections::BTreeMap;
use std::io::Cursor;

use lockbox::crypto::{SecretKey, Unwrapper};
use lockbox::format::Header;
use lockbox::vault::{Error, LevelKeys, open_envelope};

struct Keys(BTreeMap<(String, String, u32), [u8; 32]>);

impl LevelKeys for Keys {
    fn unwrapper(&self, h: &Header) -> Result<Unwrapper, Error> {
        let key = (h.tenant.clone(), h.level.clone(), h.key_epoch);
        self.0
            .get(&key)
            .map(|k| Unwrapper::new(&SecretKey::from_bytes(k)))
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
