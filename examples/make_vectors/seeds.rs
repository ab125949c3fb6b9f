//! The fuzz seed corpora: valid objects of every kind, one directory per target.

use std::path::Path;

use super::*;

use super::notes::{SIGNING_SEED, sample_grant, sample_manifest};

/// Valid objects of every kind, one file each, as fuzz seeds.
pub fn seeds(corpus: &Path) {
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
