//! The core vault through the library API: round trips, tampering, moved envelopes, refusals.

use std::io::Cursor;

use lockbox::crypto::{Purpose, SecretKey, Unwrapper, Wrapped};
use lockbox::format::{DEFAULT_CHUNK_SIZE, Header};
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::vault::{ErrorKind, LevelKeys, PutOptions, Vault, open_envelope};

use crate::kit::CHEAP;

struct Fixture {
    _dir: tempfile::TempDir,
    engine: crate::kit::Engine,
    vault: Vault,
    acme: Keyring,
    globex: Keyring,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let engine = crate::kit::Engine::new(dir.path());
    let vault = Vault::init(&engine.location()).unwrap();
    let pass = Passphrase::new("pw".into());
    let mut acme = Keyring::create(&dir.path().join("acme.keyring"), &pass, CHEAP).unwrap();
    let mut globex = Keyring::create(&dir.path().join("globex.keyring"), &pass, CHEAP).unwrap();
    let levels: Vec<String> = ["public", "internal", "secret"].map(String::from).to_vec();
    lockbox::customer::create_tenant(&vault, &mut acme, "acme", &levels).unwrap();
    lockbox::customer::create_tenant(&vault, &mut globex, "globex", &levels).unwrap();
    Fixture { _dir: dir, engine, vault, acme, globex }
}

fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn put(f: &Fixture, tenant: &str, item: &str, level: &str, data: &[u8], opts: PutOptions) {
    f.vault.put(tenant, item, level, &mut Cursor::new(data), opts).unwrap();
}

fn get(f: &Fixture, tenant: &str, item: &str, ring: &Keyring) -> Result<Vec<u8>, lockbox::vault::Error> {
    let mut out = Vec::new();
    f.vault.get(tenant, item, ring, &mut out).map(|_| out)
}

fn raw(f: &Fixture, tenant: &str, item: &str) -> Vec<u8> {
    let mut out = Vec::new();
    f.vault.get_raw(tenant, item, &mut out).unwrap();
    out
}

#[test]
fn round_trips_at_chunk_boundaries_and_beyond() {
    let f = fixture();
    let cs = DEFAULT_CHUNK_SIZE as usize;
    for len in [0, 1, cs - 1, cs, cs + 1, 2 * cs, 5 * 1024 * 1024 + 7] {
        let data = content(len);
        let id = format!("item-{len}");
        put(&f, "acme", &id, "secret", &data, PutOptions::default());
        assert_eq!(get(&f, "acme", &id, &f.acme).unwrap(), data, "len {len}");
        let info = f.vault.item("acme", &id).unwrap();
        assert_eq!(info.size, len as u64);
        let expected_chunks = len.div_ceil(cs).max(1);
        let envelope = raw(&f, "acme", &id);
        let header_len = envelope.len() - len - 16 * expected_chunks;
        assert_eq!(header_len, 184 + "acme".len() + "secret".len() + id.len());
    }
}

#[test]
fn small_chunk_sizes_round_trip() {
    let f = fixture();
    for cs in [16u32, 17, 100, 4096] {
        for len in [0usize, 15, 16, 17, 1000] {
            let data = content(len);
            let id = format!("c{cs}-{len}");
            put(&f, "acme", &id, "internal", &data, PutOptions { replace: false, chunk_size: cs });
            assert_eq!(get(&f, "acme", &id, &f.acme).unwrap(), data);
        }
    }
}

#[test]
fn every_write_uses_a_fresh_data_key_and_nonce() {
    let f = fixture();
    put(&f, "acme", "x", "secret", b"same", PutOptions::default());
    let first = raw(&f, "acme", "x");
    put(&f, "acme", "x", "secret", b"same", PutOptions { replace: true, ..Default::default() });
    let second = raw(&f, "acme", "x");
    // nonce (24..56), ephemeral (72..104), wrapped key (104..152), commitment, payload all differ
    assert_ne!(first[24..56], second[24..56]);
    assert_ne!(first[72..104], second[72..104]);
    assert_ne!(first[104..152], second[104..152]);
    assert_ne!(first[first.len() - 20..], second[second.len() - 20..]);
    // And the data keys themselves, unwrapped with the level key: a constant data key under
    // fresh nonces would pass every check above, not this one.
    let dek = |env: &[u8]| {
        let h = Header::decode(&env[..Header::declared_len(env).unwrap()]).unwrap();
        let key = f.acme.for_vault(f.vault.id()).key("acme", &h.level, h.key_epoch).unwrap();
        let wrapped = Wrapped { ephemeral: h.ephemeral, ciphertext: h.wrapped_dek };
        *Unwrapper::new(key).unwrap(Purpose::DataKey, &h.wrap_context().unwrap(), &wrapped).unwrap()
    };
    assert_ne!(dek(&first), dek(&second));
}

#[test]
fn any_flipped_byte_is_refused_or_fails_integrity_never_wrong_plaintext() {
    let f = fixture();
    let data = content(300);
    put(&f, "acme", "doc", "secret", &data, PutOptions { replace: false, chunk_size: 128 });
    let envelope = raw(&f, "acme", "doc");
    for pos in 0..envelope.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = envelope.clone();
            bad[pos] ^= bit;
            match f.vault.put_raw("acme", "doc", None, &mut Cursor::new(&bad), true) {
                Err(e) => assert!(matches!(e.kind, ErrorKind::Integrity), "pos {pos}: put said {e}"),
                Ok(_) => {
                    let got = get(&f, "acme", "doc", &f.acme);
                    match got {
                        Err(e) => {
                            assert_eq!(e.kind, ErrorKind::Integrity, "pos {pos}: get said {e}")
                        }
                        Ok(plain) => panic!("flip at {pos} gave plaintext {} bytes", plain.len()),
                    }
                }
            }
        }
    }
    // The original still stores and reads.
    f.vault.put_raw("acme", "doc", None, &mut Cursor::new(&envelope), true).unwrap();
    assert_eq!(get(&f, "acme", "doc", &f.acme).unwrap(), data);
}

#[test]
fn truncated_extended_and_reordered_payloads_are_refused() {
    let f = fixture();
    let data = content(1000);
    put(&f, "acme", "doc", "secret", &data, PutOptions { replace: false, chunk_size: 256 });
    let env = raw(&f, "acme", "doc");
    let header_len = env.len() - 1000 - 4 * 16;
    let chunk = 256 + 16;
    let body = &env[header_len..];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("drop final chunk", [&env[..header_len], &body[..3 * chunk]].concat()),
        ("drop last byte", env[..env.len() - 1].to_vec()),
        ("extra byte", [&env[..], &[0u8]].concat()),
        ("duplicate first chunk", [&env[..header_len], &body[..chunk], body].concat()),
        (
            "swap first two chunks",
            [&env[..header_len], &body[chunk..2 * chunk], &body[..chunk], &body[2 * chunk..]].concat(),
        ),
        ("header only", env[..header_len].to_vec()),
    ];
    for (what, bad) in cases {
        let outcome = f.vault.put_raw("acme", "doc", None, &mut Cursor::new(&bad), true);
        let outcome = outcome.and_then(|_| get(&f, "acme", "doc", &f.acme).map(|_| ()));
        assert_eq!(outcome.unwrap_err().kind, ErrorKind::Integrity, "{what}");
    }
}

#[test]
fn envelopes_cannot_move_to_another_item_tenant_or_level() {
    let f = fixture();
    put(&f, "acme", "a", "secret", b"alpha", PutOptions::default());
    put(&f, "acme", "b", "public", b"bravo", PutOptions::default());
    let env = raw(&f, "acme", "a");
    for (tenant, item, level) in [("acme", "b", None), ("globex", "a", None), ("acme", "a", Some("public"))] {
        let err = f.vault.put_raw(tenant, item, level, &mut Cursor::new(&env), true).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Integrity, "{tenant}/{item}/{level:?}: {err}");
    }
    // Relabelling the header itself (tenant, level or item id rewritten in place) breaks the
    // cryptographic binding: opened directly (no vault check in the way) with a reader that
    // hands out the right key whatever the header names, each relabelled envelope fails to
    // authenticate, while the original opens.
    let secret =
        SecretKey::from_bytes(&f.acme.for_vault(f.vault.id()).key("acme", "secret", 1).unwrap().to_bytes());
    let mut out = Vec::new();
    open_envelope(&mut Cursor::new(&env), &Fixed(&secret), &mut out).unwrap();
    assert_eq!(out, b"alpha");
    assert_eq!(&env[184..195], b"acmesecreta");
    for (what, at, to) in [("tenant", 184, b'b'), ("level", 188, b'x'), ("item", 194, b'b')] {
        let mut relabel = env.clone();
        relabel[at] = to;
        let err = open_envelope(&mut Cursor::new(&relabel), &Fixed(&secret), &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Integrity, "{what}: {err}");
    }
    assert_eq!(get(&f, "acme", "a", &f.acme).unwrap(), b"alpha");
}

/// A reader that hands out one key for every header: what a relabelled envelope would get from
/// a careless reader.
struct Fixed<'a>(&'a SecretKey);

impl LevelKeys for Fixed<'_> {
    fn unwrapper(
        &self,
        _: &Header,
    ) -> Result<Box<dyn lockbox::crypto::KeyUnwrap + '_>, lockbox::vault::Error> {
        Ok(Box::new(Unwrapper::new(self.0)))
    }
}

#[test]
fn another_tenants_keyring_is_access_denied() {
    let f = fixture();
    put(&f, "acme", "a", "secret", b"alpha", PutOptions::default());
    let err = get(&f, "acme", "a", &f.globex).unwrap_err();
    assert_eq!(err.kind, ErrorKind::AccessDenied, "{err}");
    assert!(err.message.contains("no key for tenant \"acme\""), "{err}");
}

#[test]
fn unknown_names_are_not_found_and_existing_items_conflict() {
    let f = fixture();
    put(&f, "acme", "a", "secret", b"alpha", PutOptions::default());
    let none = |r: Result<Vec<u8>, lockbox::vault::Error>| r.unwrap_err().kind;
    assert_eq!(none(get(&f, "nobody", "a", &f.acme)), ErrorKind::NotFound);
    assert_eq!(none(get(&f, "acme", "missing", &f.acme)), ErrorKind::NotFound);
    let err = f.vault.put("acme", "a", "nolevel", &mut Cursor::new(b"x"), PutOptions::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound);
    let err = f
        .vault
        .put("acme", "a", "secret", &mut Cursor::new(b"replacement"), PutOptions::default())
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert_eq!(get(&f, "acme", "a", &f.acme).unwrap(), b"alpha", "the item is intact");
    f.vault.remove("acme", "a").unwrap();
    assert_eq!(f.vault.remove("acme", "a").unwrap_err().kind, ErrorKind::NotFound);
}

#[test]
fn bad_names_are_usage_errors() {
    let f = fixture();
    for (tenant, item, level) in
        [("Acme", "a", "secret"), ("acme", "", "secret"), ("acme", "a\tb", "secret"), ("acme", "a", "-x")]
    {
        let err =
            f.vault.put(tenant, item, level, &mut Cursor::new(b"x"), PutOptions::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Usage, "{tenant}/{item:?}/{level}");
    }
    let long = "x".repeat(1025);
    let err =
        f.vault.put("acme", &long, "secret", &mut Cursor::new(b"x"), PutOptions::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
}

#[test]
fn a_failing_input_leaves_the_old_item() {
    struct Failing(usize);
    impl std::io::Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            buf[..n].fill(7);
            Ok(n)
        }
    }
    let f = fixture();
    put(&f, "acme", "a", "secret", b"old", PutOptions::default());
    let err = f.vault.put(
        "acme",
        "a",
        "secret",
        &mut Failing(200_000),
        PutOptions { replace: true, ..Default::default() },
    );
    assert!(err.unwrap_err().message.contains("disk on fire"));
    assert_eq!(get(&f, "acme", "a", &f.acme).unwrap(), b"old");
}

#[test]
fn the_vault_holds_no_private_key() {
    let f = fixture();
    put(&f, "acme", "w", "public", b"written blind", PutOptions::default());
    assert!(get(&f, "acme", "w", &f.globex).is_err());
    assert_eq!(get(&f, "acme", "w", &f.acme).unwrap(), b"written blind");
    // Not one private level key of either keyring is anywhere in the database file (every
    // byte of it, free pages too), or in any record a database holds.
    let db = match &f.engine {
        crate::kit::Engine::Redb(dir) => std::fs::read(dir.join(lockbox::vault::DB_FILE)).unwrap(),
        crate::kit::Engine::Postgres(_) => {
            let mut all = Vec::new();
            f.vault.backup_to(&mut all, "all records").unwrap();
            all
        }
    };
    let mut secrets = 0;
    for ring in [&f.acme, &f.globex] {
        let keys = ring.for_vault(f.vault.id());
        for (tenant, level, epoch) in keys.entries() {
            let secret = keys.key(tenant, level, epoch).unwrap().to_bytes();
            assert!(!db.windows(32).any(|w| w == &secret[..]), "{tenant}/{level}@{epoch} is in the vault");
            secrets += 1;
        }
    }
    assert_eq!(secrets, 6);
    for (ring, tenant) in [(&f.acme, "acme"), (&f.globex, "globex")] {
        let seed = ring.for_vault(f.vault.id()).tenant(tenant).unwrap().signing().seed();
        assert!(!db.windows(32).any(|w| w == &seed[..]), "the {tenant} signing key is in the vault");
    }
}

/// Yields `data`, then calls `at_end` once (an error stops the put there).
struct Source<'a> {
    data: Cursor<Vec<u8>>,
    at_end: Option<Box<dyn FnOnce() -> std::io::Result<()> + 'a>>,
}

impl std::io::Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.read(buf)?;
        if n == 0
            && let Some(f) = self.at_end.take()
        {
            f()?;
        }
        Ok(n)
    }
}

#[test]
fn a_large_put_that_fails_after_staging_leaves_nothing_behind() {
    let f = fixture();
    // Well past one staged group, so chunks are committed ahead of the record.
    let data = content(3 * lockbox::store::STAGE_BYTES);
    let mut input = Source {
        data: Cursor::new(data.clone()),
        at_end: Some(Box::new(|| Err(std::io::Error::other("the disk went away")))),
    };
    let err = f.vault.put("acme", "big", "secret", &mut input, PutOptions::default()).unwrap_err();
    assert!(err.message.contains("the disk went away"), "{}", err.message);
    assert_eq!(f.vault.item("acme", "big").unwrap_err().kind, ErrorKind::NotFound);
    let report = f.vault.verify(None, Some(&f.acme)).unwrap();
    assert!(report.problems.is_empty(), "staged chunks were discarded: {:?}", report.problems);

    // The same put, whole, stores it.
    put(&f, "acme", "big", "secret", &data, PutOptions::default());
    assert_eq!(get(&f, "acme", "big", &f.acme).unwrap(), data);
    assert!(f.vault.verify(None, Some(&f.acme)).unwrap().problems.is_empty());
}

#[test]
fn a_level_re_keyed_during_a_large_put_refuses_it() {
    let f = fixture();
    let data = content(2 * lockbox::store::STAGE_BYTES);
    let acme = std::cell::RefCell::new(f.acme);
    let vault = &f.vault;
    let mut input = Source {
        data: Cursor::new(data),
        // An approval in the middle of the put rotates the level the same way.
        at_end: Some(Box::new(|| {
            lockbox::customer::rotate_level(vault, &mut acme.borrow_mut(), "acme", "secret", false).unwrap();
            Ok(())
        })),
    };
    let err = vault.put("acme", "big", "secret", &mut input, PutOptions::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("re-keyed"), "{}", err.message);
    assert_eq!(vault.item("acme", "big").unwrap_err().kind, ErrorKind::NotFound);
    assert!(vault.verify(None, Some(&acme.borrow())).unwrap().problems.is_empty());
}

#[test]
fn a_large_raw_envelope_round_trips_and_a_cut_one_leaves_nothing() {
    let f = fixture();
    let data = content(2 * lockbox::store::STAGE_BYTES + 12_345);
    put(&f, "acme", "big", "secret", &data, PutOptions::default());
    let mut raw = Vec::new();
    f.vault.get_raw("acme", "big", &mut raw).unwrap();
    f.vault.remove("acme", "big").unwrap();

    // Cut after more than one staged group, so that the last piece is shorter than a tag:
    // refused, and nothing stays behind.
    let full = DEFAULT_CHUNK_SIZE as usize + 16;
    let last = data.len() % DEFAULT_CHUNK_SIZE as usize + 16;
    let cut = &raw[..raw.len() - last - (full - 10)];
    let err = f.vault.put_raw("acme", "big", None, &mut Cursor::new(cut), false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{}", err.message);
    assert_eq!(f.vault.item("acme", "big").unwrap_err().kind, ErrorKind::NotFound);
    assert!(f.vault.verify(None, Some(&f.acme)).unwrap().problems.is_empty());

    f.vault.put_raw("acme", "big", Some("secret"), &mut Cursor::new(&raw), false).unwrap();
    assert!(get(&f, "acme", "big", &f.acme).unwrap() == data);
    let err = f.vault.put_raw("acme", "big", None, &mut Cursor::new(&raw), false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(f.vault.verify(None, Some(&f.acme)).unwrap().problems.is_empty());
}

/// A key agent: the level key lives on its own thread, which only answers unwrap requests, as
/// a token or a customer-run agent would. The vault reads through it without ever holding the
/// key: every data key it needs is unwrapped on the agent's side.
struct Agent {
    public: lockbox::crypto::PublicKey,
    asks: std::sync::mpsc::Sender<(Vec<u8>, lockbox::crypto::Wrapped)>,
    answers: std::sync::Mutex<
        std::sync::mpsc::Receiver<Result<zeroize::Zeroizing<[u8; 32]>, lockbox::crypto::CryptoError>>,
    >,
    served: std::sync::atomic::AtomicUsize,
}

struct AgentSession<'a>(&'a Agent);

impl lockbox::crypto::KeyUnwrap for AgentSession<'_> {
    fn public(&self) -> lockbox::crypto::PublicKey {
        self.0.public
    }

    fn unwrap(
        &mut self,
        purpose: Purpose,
        context: &[u8],
        wrapped: &Wrapped,
    ) -> Result<zeroize::Zeroizing<[u8; 32]>, lockbox::crypto::CryptoError> {
        assert_eq!(purpose, Purpose::DataKey, "the vault asks only for data keys");
        self.0.asks.send((context.to_vec(), *wrapped)).unwrap();
        self.0.served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.answers.lock().unwrap().recv().unwrap()
    }
}

impl LevelKeys for Agent {
    fn unwrapper(
        &self,
        _: &Header,
    ) -> Result<Box<dyn lockbox::crypto::KeyUnwrap + '_>, lockbox::vault::Error> {
        Ok(Box::new(AgentSession(self)))
    }
}

fn agent(secret: SecretKey) -> Agent {
    let (ask, asks) = std::sync::mpsc::channel::<(Vec<u8>, Wrapped)>();
    let (answer, answers) = std::sync::mpsc::channel();
    let public = secret.public();
    std::thread::spawn(move || {
        let mut own = Unwrapper::new(&secret);
        for (context, wrapped) in asks {
            if answer.send(own.unwrap(Purpose::DataKey, &context, &wrapped)).is_err() {
                break;
            }
        }
    });
    Agent { public, asks: ask, answers: std::sync::Mutex::new(answers), served: Default::default() }
}

#[test]
fn a_key_source_that_never_lets_its_key_out_reads_items() {
    let f = fixture();
    let data = content(200_000);
    put(&f, "acme", "report", "secret", &data, PutOptions::default());
    let secret =
        SecretKey::from_bytes(&f.acme.for_vault(f.vault.id()).key("acme", "secret", 1).unwrap().to_bytes());
    let keys = agent(secret);
    let mut out = Vec::new();
    f.vault.get("acme", "report", &keys, &mut out).unwrap();
    assert_eq!(out, data);
    assert_eq!(
        keys.served.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one data key, unwrapped by the agent"
    );
    // An agent holding another key: the vault sees the key is not the one the item names.
    let other = agent(SecretKey::from_bytes(
        &f.acme.for_vault(f.vault.id()).key("acme", "internal", 1).unwrap().to_bytes(),
    ));
    assert_eq!(
        f.vault.get("acme", "report", &other, &mut Vec::new()).unwrap_err().kind,
        ErrorKind::Integrity
    );
    assert_eq!(other.served.load(std::sync::atomic::Ordering::SeqCst), 0, "refused before asking");
}

/// A stored header damaged on disk where the reader looks for its key (its key fingerprint, key
/// epoch or level name: a flipped bit) is reported as damage (exit 5), never as a key the
/// keyring does not hold (exit 4).
#[test]
fn a_header_damaged_where_its_key_is_named_is_damage_not_a_missing_key() {
    // magic, version, suite, flags, chunk size, epoch: the key epoch's last byte is 19; then
    // name lengths and nonce: the fingerprint starts at 56; the names follow the fixed part
    // (184 bytes): "acme", then "secret" from 188.
    for (what, at, bit) in [("fingerprint", 56, 1), ("key epoch", 19, 2), ("level name", 190, 1)] {
        let f = fixture();
        put(&f, "acme", "doc", "secret", b"content", PutOptions::default());
        drop(f.vault);
        f.engine.as_operator(|tx| {
            let mut record = tx.item("acme", "doc").unwrap().unwrap();
            record.header[at] ^= bit;
            tx.put_item("acme", "doc", &record).unwrap();
        });
        let vault = Vault::open(&f.engine.location()).unwrap();
        let e = vault.get("acme", "doc", &f.acme, &mut Vec::new()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity, "{what}: {e}");
    }
}
