//! Writes the envelope test vectors in tests/vectors/ deterministically:
//!
//! ```sh
//! cargo run --example make_vectors -- tests/vectors fuzz/corpus
//! ```
//!
//! It also writes the fuzz seed corpora (valid objects of every kind) under the second path.
//!
//! Each vector is a JSON file: the level keys a reader holds, the envelope (hex), and the
//! expected outcome: the plaintext, or an error kind and a phrase of its message. Another
//! implementation can check itself against them with the same keys.

use std::path::{Path, PathBuf};

use lockbox::crypto::{DataKey, SecretKey, Wrapper};
use lockbox::format::{DEFAULT_CHUNK_SIZE, HEADER_FIXED_LEN, Header};
use lockbox::vault::{ItemFields, seal_envelope, seal_header};
use serde_json::json;

const LEVEL_SECRET: [u8; 32] = [0x11; 32];
const DEK: [u8; 32] = [0x22; 32];
const NONCE: [u8; 32] = [0x33; 32];
const EPHEMERAL: [u8; 32] = [0x44; 32];
const CS: u32 = 64;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

fn fields(chunk_size: u32) -> ItemFields<'static> {
    ItemFields { tenant: "acme", level: "secret", item: "doc", epoch: 1, chunk_size }
}

fn public() -> [u8; 32] {
    SecretKey::from_bytes(&LEVEL_SECRET).public().0
}

fn envelope(len: usize, chunk_size: u32) -> Vec<u8> {
    seal_envelope(&fields(chunk_size), &public(), DEK, NONCE, EPHEMERAL, &plaintext(len)).unwrap()
}

struct Writer {
    dir: PathBuf,
    count: usize,
}

impl Writer {
    fn write(&mut self, name: &str, description: &str, envelope: &[u8], expect: serde_json::Value) {
        let v = json!({
            "name": name,
            "description": description,
            "keys": [{"tenant": "acme", "level": "secret", "epoch": 1, "secret": hex(&LEVEL_SECRET)}],
            "envelope": hex(envelope),
            "expect": expect,
        });
        let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
        std::fs::write(self.dir.join(format!("{name}.json")), text).unwrap();
        self.count += 1;
    }

    fn valid(&mut self, name: &str, description: &str, len: usize, chunk_size: u32) {
        let env = envelope(len, chunk_size);
        self.write(name, description, &env, json!({"plaintext": hex(&plaintext(len))}));
    }

    fn invalid(&mut self, name: &str, description: &str, env: &[u8], kind: &str, phrase: &str) {
        self.write(name, description, env, json!({"error": kind, "message_contains": phrase}));
    }
}

/// The base envelope with its decoded header re-encoded after `f` changed it.
fn with_header(f: impl FnOnce(&mut Header)) -> Vec<u8> {
    let env = envelope(200, CS);
    let len = Header::declared_len(&env[..HEADER_FIXED_LEN]).unwrap();
    let mut h = Header::decode(&env[..len]).unwrap();
    f(&mut h);
    [h.encode().unwrap(), env[len..].to_vec()].concat()
}

/// The base envelope with raw bytes patched.
fn patched(patches: &[(usize, u8)]) -> Vec<u8> {
    let mut env = envelope(200, CS);
    for (at, byte) in patches {
        env[*at] = *byte;
    }
    env
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "tests/vectors".into());
    let dir = Path::new(&dir).to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    for old in std::fs::read_dir(&dir).unwrap() {
        let path = old.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let mut w = Writer { dir, count: 0 };

    for (len, what) in [
        (0, "empty"),
        (1, "one byte"),
        (63, "chunk - 1"),
        (64, "one full chunk"),
        (65, "chunk + 1"),
        (200, "several chunks"),
    ] {
        w.valid(&format!("valid-{len}-bytes-chunk-64"), &format!("{what}, chunk size 64"), len, CS);
    }
    w.valid("valid-1000-bytes-default-chunk", "1000 bytes, default chunk size", 1000, DEFAULT_CHUNK_SIZE);

    let base = envelope(200, CS);
    let header_len = Header::declared_len(&base[..HEADER_FIXED_LEN]).unwrap();
    let full = CS as usize + 16;
    let (head, body) = base.split_at(header_len);
    let chunk = |i: usize| &body[i * full..((i + 1) * full).min(body.len())];
    // 200 bytes at 64 per chunk: chunks 0, 1, 2 full and chunk 3 (8 bytes) final.
    let integrity = "integrity";

    w.invalid("wrong-magic", "magic is not LBXE", &patched(&[(0, b'X')]), integrity, "wrong magic");
    w.invalid("unknown-version", "version 2", &patched(&[(4, 2)]), integrity, "unsupported format version 2");
    w.invalid("bad-suite", "suite 9", &patched(&[(5, 9)]), integrity, "unsupported cipher suite 9");
    w.invalid("reserved-flags", "a flag bit set", &patched(&[(7, 1)]), integrity, "reserved bits");
    let small = with_header(|h| h.chunk_size = 15);
    w.invalid("chunk-size-too-small", "chunk size 15", &small, integrity, "chunk size is 15");
    let big = with_header(|h| h.chunk_size = 16 * 1024 * 1024 + 1);
    w.invalid("chunk-size-too-large", "chunk size 16 MiB + 1", &big, integrity, "chunk size is 16777217");
    w.invalid("epoch-zero", "epoch 0", &with_header(|h| h.epoch = 0), integrity, "epoch is 0");
    let below = with_header(|h| {
        h.epoch = 2;
        h.key_epoch = 1
    });
    w.invalid("key-epoch-below-epoch", "key epoch 1 < epoch 2", &below, integrity, "key epoch is 1");
    w.invalid("tenant-length-zero", "tenant length 0", &patched(&[(20, 0)]), integrity, "tenant length is 0");
    w.invalid(
        "tenant-length-too-long",
        "tenant length 64",
        &patched(&[(20, 64)]),
        integrity,
        "tenant length is 64",
    );
    w.invalid("level-length-zero", "level length 0", &patched(&[(21, 0)]), integrity, "level length is 0");
    w.invalid(
        "item-length-zero",
        "item id length 0",
        &patched(&[(22, 0), (23, 0)]),
        integrity,
        "item id length is 0",
    );
    w.invalid(
        "item-length-too-long",
        "item id length 1025",
        &patched(&[(22, 4), (23, 1)]),
        integrity,
        "item id length is 1025",
    );
    let upper = with_header(|h| h.tenant = "Acme".into());
    w.invalid("tenant-not-canonical-name", "upper-case tenant", &upper, integrity, "invalid tenant");
    let mut not_utf8 = base.clone();
    not_utf8[header_len - 1] = 0xff;
    w.invalid("item-not-utf8", "item id byte 0xff", &not_utf8, integrity, "not valid UTF-8");
    w.invalid("truncated-header", "first 100 bytes", &base[..100], integrity, "truncated");
    w.invalid("header-only", "no payload at all", head, integrity, "truncated");
    let zero = with_header(|h| h.ephemeral = [0; 32]);
    w.invalid("all-zero-ephemeral", "ephemeral key of zeros", &zero, integrity, "all-zero ephemeral key");
    let mut one = [0u8; 32];
    one[0] = 1;
    let low = with_header(|h| h.ephemeral = one);
    w.invalid("low-order-ephemeral", "ephemeral key u = 1 (order 1)", &low, integrity, "does not unwrap");
    let commit = with_header(|h| h.commitment[0] ^= 1);
    w.invalid(
        "wrong-commitment",
        "one commitment bit flipped",
        &commit,
        integrity,
        "key commitment mismatch",
    );
    let wrapped = with_header(|h| h.wrapped_dek[47] ^= 1);
    w.invalid(
        "wrapped-key-altered",
        "one tag bit of the wrapped key flipped",
        &wrapped,
        integrity,
        "does not unwrap",
    );
    let fp = with_header(|h| h.fingerprint[0] ^= 1);
    w.invalid("wrong-fingerprint", "fingerprint of another key", &fp, integrity, "names a key other");
    let moved = with_header(|h| h.item = "dog".into());
    w.invalid("context-mismatch-item", "item id relabelled doc -> dog", &moved, integrity, "does not unwrap");
    let nonce = with_header(|h| h.nonce[0] ^= 1);
    w.invalid("context-mismatch-nonce", "item nonce altered", &nonce, integrity, "does not unwrap");
    let rewrapped = with_header(|h| h.key_epoch = 2);
    w.invalid(
        "unknown-key-epoch",
        "key epoch 2, which the reader has no key for",
        &rewrapped,
        "access_denied",
        "no key",
    );
    let swapped = [head, chunk(1), chunk(0), chunk(2), chunk(3)].concat();
    w.invalid("swapped-chunks", "chunks 0 and 1 swapped", &swapped, integrity, "does not authenticate");
    let missing = [head, chunk(0), chunk(2), chunk(3)].concat();
    w.invalid("missing-chunk", "chunk 1 removed", &missing, integrity, "does not authenticate");
    let duplicated = [head, chunk(0), chunk(0), chunk(1), chunk(2), chunk(3)].concat();
    w.invalid("duplicated-chunk", "chunk 0 twice", &duplicated, integrity, "does not authenticate");
    let no_final = [head, chunk(0), chunk(1), chunk(2)].concat();
    w.invalid(
        "missing-final-chunk",
        "the final chunk removed",
        &no_final,
        integrity,
        "does not authenticate",
    );
    let extra = [head, chunk(0), chunk(1), chunk(2), chunk(3), chunk(0)].concat();
    w.invalid("extra-chunk", "a chunk after the final one", &extra, integrity, "does not authenticate");
    let trailing = [&base[..], &[0u8]].concat();
    w.invalid(
        "trailing-byte",
        "one byte after the final chunk",
        &trailing,
        integrity,
        "does not authenticate",
    );
    let mut flipped = base.clone();
    flipped[header_len + 5] ^= 1;
    w.invalid("ciphertext-altered", "one payload bit flipped", &flipped, integrity, "does not authenticate");
    let short_chunk = [head, &chunk(0)[..full - 1], chunk(1), chunk(2), chunk(3)].concat();
    w.invalid(
        "short-chunk",
        "a non-final chunk one byte short",
        &short_chunk,
        integrity,
        "does not authenticate",
    );
    w.invalid(
        "empty-final-chunk",
        "64 bytes as a full chunk and an empty final chunk",
        &empty_final_chunk(),
        integrity,
        "empty final chunk",
    );
    println!("wrote {} vectors to {}", w.count, w.dir.display());
    notes(&w.dir.join("notes"));
    audit_events(&w.dir.join("audit"));
    let corpus = std::env::args().nth(2).unwrap_or_else(|| "fuzz/corpus".into());
    seeds(Path::new(&corpus));
}

/// The signing key of the signed-note vectors (its 32-byte Ed25519 seed).
const SIGNING_SEED: [u8; 32] = [0x55; 32];
/// The seed of a second signer (another key, an audit monitor).
const OTHER_SEED: [u8; 32] = [0x56; 32];

fn sample_manifest() -> lockbox::format::Manifest {
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

fn sample_grant() -> lockbox::format::GrantNote {
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

/// Audit-event vectors: one valid event of every kind (its encoding and action name), bytes a
/// decoder must refuse, and one whole entry with the hash that chains it.
fn audit_events(dir: &Path) {
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
            "an import.items claiming 4 billion items",
            [&[17u8][..], &u32::MAX.to_be_bytes()].concat(),
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

/// Signed-note vectors (manifests and grants): the note, the signer's public key, and whether
/// a verifier for that origin must accept it.
fn notes(dir: &Path) {
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

/// Valid objects of every kind, one file each, as fuzz seeds.
fn seeds(corpus: &Path) {
    use lockbox::audit::Entry;
    use lockbox::format::{
        GrantKeyBlob, GrantKeyContext, IdentityBody, KdfParams, KeyFile, KeyFileKind, KeyState, KeyringBody,
        KeyringKey, KeyringTenant, ManifestMark,
    };
    use lockbox::store::codec;
    use lockbox::store::records::{
        Decision, EngineerRecord, EpochRecord, GrantRecord, ItemRecord, LevelRecord, RequestRecord,
        TenantRecord,
    };
    use zeroize::Zeroizing;

    let mut count = 0;
    let mut put = |target: &str, name: &str, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        count += 1;
    };
    let envelopes: Vec<(String, Vec<u8>)> = [0usize, 1, 63, 64, 65, 200]
        .iter()
        .map(|&len| (format!("{len}"), envelope(len, CS)))
        .chain(std::iter::once(("1000-default".to_string(), envelope(1000, DEFAULT_CHUNK_SIZE))))
        .collect();
    for (name, env) in &envelopes {
        put("decrypt", name, env);
        let len = Header::declared_len(&env[..HEADER_FIXED_LEN]).unwrap();
        put("envelope_header", name, &env[..len]);
    }
    let kdf = KdfParams { memory_kib: 65536, iterations: 3, lanes: 1 };
    for (name, kind) in [
        ("keyring", KeyFileKind::Keyring),
        ("identity", KeyFileKind::Identity),
        ("monitor", KeyFileKind::Monitor),
    ] {
        let file = KeyFile {
            version: KeyFile::VERSION,
            kind,
            kdf,
            salt: [1; 16],
            nonce: [2; 12],
            ciphertext: vec![3; 100],
        };
        put("key_file", name, &file.encode());
    }
    let key =
        |l: &str, e, state| KeyringKey { level: l.into(), epoch: e, state, secret: Zeroizing::new([9; 32]) };
    let tenant_keys = |vault: u8, t: &str, keys: Vec<KeyringKey>| KeyringTenant {
        vault: [vault; 16],
        tenant: t.into(),
        signing_seed: Zeroizing::new([8; 32]),
        last: ManifestMark { seq: 2, hash: [7; 32] },
        proposed: ManifestMark::default(),
        checkpoint: ManifestMark { seq: 9, hash: [5; 32] },
        keys,
        engineers: vec![("eve".into(), [6; 32])],
    };
    let body = KeyringBody {
        tenants: vec![
            tenant_keys(
                1,
                "acme",
                vec![key("internal", 1, KeyState::Released), key("internal", 2, KeyState::Registered)],
            ),
            tenant_keys(2, "globex", vec![key("secret", 1, KeyState::Pending)]),
        ],
    };
    put("keyring_body", "three", &body.encode().unwrap());
    put("keyring_body", "empty", &KeyringBody::default().encode().unwrap());
    let watched = |vault: u8, t: &str, seq| lockbox::format::MonitorTenant {
        vault: [vault; 16],
        tenant: t.into(),
        signer: [4; 32],
        mark: if seq == 0 { ManifestMark::default() } else { ManifestMark { seq, hash: [3; 32] } },
    };
    let monitor = lockbox::format::MonitorBody {
        seed: Zeroizing::new([2; 32]),
        tenants: vec![watched(1, "acme", 12), watched(1, "globex", 0)],
    };
    put("monitor_body", "two", &monitor.encode().unwrap());
    put(
        "identity_body",
        "eve",
        &IdentityBody { engineer: "eve".into(), secret: Zeroizing::new([7; 32]) }.encode().unwrap(),
    );
    let context = GrantKeyContext {
        grant_id: [5; 16],
        tenant: "acme".into(),
        level: "internal".into(),
        epoch: 1,
        engineer: "eve".into(),
        expires: 1_900_000_000,
        engineer_fingerprint: [6; 16],
        level_fingerprint: [7; 16],
    };
    let blob = GrantKeyBlob { context, ephemeral: [8; 32], wrapped: [9; 48] };
    put("grant_blob", "one", &blob.encode().unwrap());
    {
        use lockbox::crypto::{SigningKey, sign_note};
        let key = SigningKey::from_seed(&SIGNING_SEED);
        let m = sample_manifest();
        put("signed_note", "manifest", sign_note(&key, &m.origin, m.encode()).encode().as_bytes());
        put("signed_note", "manifest-body", m.encode().as_bytes());
        let g = sample_grant();
        put("signed_note", "grant", sign_note(&key, &g.origin, g.encode()).encode().as_bytes());
        put("signed_note", "grant-body", g.encode().as_bytes());
        let c = lockbox::format::Checkpoint {
            origin: m.origin.clone(),
            size: 42,
            head: [0x99; 32],
            time: 1_800_000_100,
            manifest: Some((7, [0x77; 32])),
        };
        put("signed_note", "checkpoint", sign_note(&key, &c.origin, c.encode()).encode().as_bytes());
        let pin = |t: &str, place: Option<&[u8]>| lockbox::format::PinLine {
            vault: [1; 16],
            tenant: t.into(),
            fingerprint: [2; 32],
            seen: 3,
            seen_hash: [4; 32],
            place: place.map(<[u8]>::to_vec),
        };
        let two = [pin("acme", None), pin("globex", Some(b"/srv/vault 2"))];
        put("trust_store", "two", lockbox::format::encode_pins(&two).as_bytes());
    }

    let tenant = TenantRecord {
        name: "acme".into(),
        created: 1,
        levels: vec![LevelRecord {
            name: "secret".into(),
            created: 1,
            epochs: vec![EpochRecord { epoch: 1, public: [1; 32], created: 1 }],
        }],
        max_access_secs: 14_400,
        request_ttl_secs: 43_200,
        signer: [2; 32],
        manifest: "lockbox.v1 manifest\n".into(),
        checkpoint: String::new(),
    };
    let item = ItemRecord {
        header: envelopes[5].1[..211].to_vec(),
        size: 200,
        created: 2,
        blob: [3; 16],
        chunks: 4,
        inline: None,
    };
    let engineer = EngineerRecord { name: "eve".into(), public: [4; 32], created: 3 };
    let request = RequestRecord {
        id: [5; 16],
        tenant: "acme".into(),
        engineer: "eve".into(),
        levels: vec!["secret".into()],
        reason: "disk full".into(),
        case_id: "CS-1".into(),
        duration_secs: 3600,
        created: 4,
        expires: 5,
        decision: Decision::Approved,
        decided: Some(4),
        decided_by: Some("alice".into()),
        decision_reason: None,
        grant: Some([6; 16]),
    };
    let grant = GrantRecord {
        id: [6; 16],
        request: [5; 16],
        tenant: "acme".into(),
        engineer: "eve".into(),
        levels: vec![("secret".into(), 1)],
        created: 4,
        expires: 3604,
        approved_by: "alice".into(),
        revoked: None,
        keys: vec![blob.encode().unwrap()],
        note: "lockbox.v1 grant\n".into(),
    };
    let record = |selector: u8, bytes: Vec<u8>| [vec![selector], bytes].concat();
    put("records", "tenant", &record(0, codec::encode("r", &tenant).unwrap()));
    put("records", "item", &record(1, codec::encode("r", &item).unwrap()));
    put("records", "engineer", &record(2, codec::encode("r", &engineer).unwrap()));
    put("records", "request", &record(3, codec::encode("r", &request).unwrap()));
    put("records", "grant", &record(4, codec::encode("r", &grant).unwrap()));
    let mut audit = Entry {
        seq: 1,
        time: 1_795_868_705,
        actor: "alice".into(),
        tenant: "acme".into(),
        subject: "05050505050505050505050505050505".into(),
        event: lockbox::format::AuditEvent::RequestApprove {
            grant: [6; 16],
            engineer: "eve".into(),
            levels: vec![("secret".into(), 1)],
            duration_secs: 3600,
        },
        prev: [0; 32],
        chain: 1,
        chain_prev: [0; 32],
        hash: [0; 32],
    };
    audit.hash = audit.compute_hash().unwrap();
    put("audit_entry", "approve", &codec::encode("e", &audit).unwrap());
    for event in lockbox::format::audit_samples() {
        put("audit_event", event.action(), &event.encode().unwrap());
    }
    // put a, get a, request all, approve a subset, engineer get, rotate with rewrap, get, revoke, engineer get, rm
    let ops: &[u8] = &[
        0, 1, 1, 3, 1, 0, 0, 2, 2, 4, 0, 6, 5, 0, 2, 9, 1, 0, 9, 2, 0, 8, 1, 1, 9, 1, 0, 7, 0, 0, 9, 1, 0, 2,
        1, 0, 6, 0, 0,
    ];
    put("vault_ops", "story", ops);
    // A small real backup: a vault with one tenant and two items (one inline, one chunked).
    let tmp = tempfile::tempdir().unwrap();
    let vault = lockbox::vault::Vault::init(&tmp.path().join("v")).unwrap();
    let kdf = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
    let mut keyring = lockbox::keyring::Keyring::create(
        &tmp.path().join("k"),
        &lockbox::keyring::Passphrase::new("pw".into()),
        kdf,
    )
    .unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["secret".into()]).unwrap();
    let opts = lockbox::vault::PutOptions { replace: false, chunk_size: 64 };
    vault.put("acme", "small", "secret", &mut std::io::Cursor::new(b"hi"), opts).unwrap();
    vault.put("acme", "large", "secret", &mut std::io::Cursor::new(plaintext(200)), opts).unwrap();
    vault.backup(&tmp.path().join("b"), false).unwrap();
    put("backup", "two-items", &std::fs::read(tmp.path().join("b")).unwrap());
    println!("wrote {count} fuzz seeds to {}", corpus.display());
}

/// 64 bytes sealed non-canonically: chunk 0 not final, then an empty final chunk.
fn empty_final_chunk() -> Vec<u8> {
    let wrapper =
        Wrapper::with_ephemeral(&SecretKey::from_bytes(&EPHEMERAL), &lockbox::crypto::PublicKey(public()))
            .unwrap();
    let dek = DataKey::from_bytes(zeroize::Zeroizing::new(DEK));
    let (header, mut sealer) = seal_header(&fields(CS), &public(), &dek, NONCE, &wrapper).unwrap();
    let mut first = plaintext(64);
    sealer.seal(&mut first, false).unwrap();
    let mut last = Vec::new();
    sealer.seal(&mut last, true).unwrap();
    [header.encode().unwrap(), first, last].concat()
}
