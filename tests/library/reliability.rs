//! Corruption found and contained, backups that restore, and threads sharing one vault.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use lockbox::audit::Verdict;
use lockbox::keyring::{Identity, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex};
use lockbox::store::raw::{RawWrite, Table, chunk_key, item_key};
use lockbox::store::records::ItemRecord;
use lockbox::store::{Reads, RedbStore, RedbWrite, Writes, codec};
use lockbox::vault::{DB_FILE, ErrorKind, PutOptions, Vault};

use crate::kit::Rng;

use crate::kit::CHEAP;
use lockbox::lockbox::Workflow;

struct Fixture {
    dir: tempfile::TempDir,
    keyring: Keyring,
    contents: BTreeMap<String, Vec<u8>>,
    /// The tenant's pin, as the machine that created it keeps it.
    pins: std::sync::Arc<lockbox::trust::Pins>,
}

impl Fixture {
    fn new(items: usize, size: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::init(&dir.path().join("vault")).unwrap();
        let pass = Passphrase::new("pw".into());
        let mut keyring = Keyring::create(&dir.path().join("k"), &pass, CHEAP).unwrap();
        lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into(), "secret".into()])
            .unwrap();
        let mut rng = Rng(7);
        let mut contents = BTreeMap::new();
        for i in 0..items {
            let data: Vec<u8> = (0..size + i * 97).map(|_| rng.next() as u8).collect();
            let id = format!("item-{i:02}");
            let opts = PutOptions { replace: false, chunk_size: 4096 };
            vault
                .put(
                    "acme",
                    &id,
                    if i % 2 == 0 { "internal" } else { "secret" },
                    &mut Cursor::new(&data),
                    opts,
                )
                .unwrap();
            contents.insert(id, data);
        }
        Fixture { dir, keyring, contents, pins: vault.pins().clone() }
    }

    /// Opens a vault directory on this fixture's machine (its trust store).
    fn open(&self, dir: &std::path::Path) -> Result<Vault, lockbox::vault::Error> {
        Vault::open(dir).map(|v| v.with_pins(self.pins.clone()))
    }

    fn vault_dir(&self) -> PathBuf {
        self.dir.path().join("vault")
    }

    fn db(&self) -> PathBuf {
        self.vault_dir().join(DB_FILE)
    }

    /// Every item: the original content or an integrity failure, never anything else.
    fn check_items(&self, vault: &Vault) -> (usize, usize) {
        let (mut ok, mut damaged) = (0, 0);
        for (id, data) in &self.contents {
            let mut out = Vec::new();
            match vault.get("acme", id, &self.keyring, &mut out) {
                Ok(_) => {
                    assert_eq!(&out, data, "{id}: wrong plaintext");
                    ok += 1;
                }
                Err(e) => {
                    assert_eq!(e.kind, ErrorKind::Integrity, "{id}: {e}");
                    damaged += 1;
                }
            }
        }
        (ok, damaged)
    }
}

#[test]
fn flipped_bytes_in_the_database_file_are_contained() {
    let f = Fixture::new(12, 9000);
    let original = std::fs::read(f.db()).unwrap();
    let mut rng = Rng(0x5eed);
    let (mut refused_open, mut some_damaged, mut all_fine) = (0, 0, 0);
    // Flips land in redb's file; the prefix before it holds no data (one flip in its magic
    // line is tried below).
    const PREFIX: u64 = 60 * 1024;
    for _ in 0..60 {
        let mut bytes = original.clone();
        let at = (PREFIX + rng.below(bytes.len() as u64 - PREFIX)) as usize;
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(f.db(), &bytes).unwrap();
        match f.open(&f.vault_dir()) {
            Err(e) => {
                assert_eq!(e.kind, ErrorKind::Integrity, "offset {at}: {e}");
                assert!(e.message.contains(DB_FILE), "names the file: {e}");
                refused_open += 1;
            }
            Ok(vault) => {
                let (_, damaged) = f.check_items(&vault);
                let report = vault.verify(None, Some(&f.keyring));
                if damaged > 0 {
                    some_damaged += 1;
                    let problems = report.map(|r| r.problems.len()).unwrap_or(1);
                    assert!(problems > 0, "offset {at}: get found damage but verify did not");
                } else {
                    all_fine += 1;
                }
            }
        }
    }
    std::fs::write(f.db(), &original).unwrap();
    let vault = f.open(&f.vault_dir()).unwrap();
    assert_eq!(f.check_items(&vault), (12, 0));
    eprintln!(
        "60 flips: {refused_open} refused at open, {some_damaged} with damaged items, {all_fine} harmless"
    );
    assert_eq!(refused_open + some_damaged + all_fine, 60);

    // A flipped magic line: the file no longer says where redb's file starts, and is refused.
    drop(vault);
    let mut bytes = original.clone();
    bytes[3] ^= 0x20;
    std::fs::write(f.db(), &bytes).unwrap();
    let err = f.open(&f.vault_dir()).err().expect("a damaged magic line is refused");
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    std::fs::write(f.db(), &original).unwrap();
    let vault = f.open(&f.vault_dir()).unwrap();

    // One flip where it must matter: inside the stored ciphertext of item-03. Its read fails
    // with an integrity error, every other item still reads, and verify reports it.
    let mut envelope = Vec::new();
    vault.get_raw("acme", "item-03", &mut envelope).unwrap();
    drop(vault);
    let header_len = lockbox::format::Header::declared_len(&envelope).unwrap();
    let needle = &envelope[header_len + 100..header_len + 132];
    let at = original.windows(32).position(|w| w == needle).expect("the chunk is in the file as stored") + 7;
    let mut bytes = original.clone();
    bytes[at] ^= 0x10;
    std::fs::write(f.db(), &bytes).unwrap();
    let vault = f.open(&f.vault_dir()).unwrap();
    let mut out = Vec::new();
    let err = vault.get("acme", "item-03", &f.keyring, &mut out).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Integrity, "{err}");
    assert_eq!(f.check_items(&vault), (11, 1));
    let report = vault.verify(None, Some(&f.keyring)).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].contains("item-03"), "{:?}", report.problems);
    drop(vault);
    std::fs::write(f.db(), &original).unwrap();
}

/// A vault file starts with 60 KiB of lockbox's own (so that redb's 64 KiB pages are aligned).
/// Without them it is the redb file of a vault made before the prefix, which still opens and
/// reads; the prefix alone, or nothing at all, is refused as damage, not taken for a new vault.
#[test]
fn vault_files_with_and_without_the_prefix() {
    let f = Fixture::new(6, 70_000);
    let original = std::fs::read(f.db()).unwrap();
    const PREFIX: usize = 60 * 1024;
    assert_eq!(&original[..16], b"lockbox vault 1\n");
    assert!(original[16..PREFIX].iter().all(|&b| b == 0));
    assert_eq!(&original[PREFIX..PREFIX + 4], b"redb", "redb's file follows the prefix");

    std::fs::write(f.db(), &original[PREFIX..]).unwrap();
    let vault = f.open(&f.vault_dir()).unwrap();
    assert_eq!(f.check_items(&vault), (6, 0));
    vault
        .put("acme", "later", "internal", &mut Cursor::new(vec![3u8; 200_000]), PutOptions::default())
        .unwrap();
    drop(vault);
    assert_eq!(&std::fs::read(f.db()).unwrap()[..4], b"redb", "an old file keeps its layout");

    for (bytes, what) in [(&original[..PREFIX], "the prefix alone"), (&[][..], "an empty file")] {
        std::fs::write(f.db(), bytes).unwrap();
        let err = f.open(&f.vault_dir()).err().expect(what);
        assert_eq!(err.kind, ErrorKind::Integrity, "{what}: {err}");
        assert!(err.message.contains("holds no database"), "{what}: {err}");
        assert_eq!(std::fs::read(f.db()).unwrap(), bytes, "{what}: left as it was");
    }
    std::fs::write(f.db(), &original).unwrap();
    assert_eq!(f.check_items(&f.open(&f.vault_dir()).unwrap()), (6, 0));
}

fn with_store(f: &Fixture, edit: impl FnOnce(&RedbWrite)) {
    let store = RedbStore::open(&f.db()).unwrap();
    let tx = store.begin_raw_write().unwrap();
    edit(&tx);
    tx.commit().unwrap();
}

fn item_record(tx: &impl Reads, id: &str) -> ItemRecord {
    tx.item("acme", id).unwrap().unwrap()
}

#[test]
fn damaged_records_are_reported_and_the_rest_still_served() {
    let f = Fixture::new(8, 9000);
    with_store(&f, |tx| {
        // item-00: a flipped header byte inside its record
        let mut r = item_record(tx, "item-00");
        r.header[0] ^= 1;
        tx.put_item("acme", "item-00", &r).unwrap();
        // item-01: a chunk removed
        let r = item_record(tx, "item-01");
        tx.remove(Table::Chunks, &chunk_key(&r.blob, 1)).unwrap();
        // item-02: a chunk truncated
        let r = item_record(tx, "item-02");
        let chunk = tx.chunk(&r.blob, 0).unwrap().unwrap();
        tx.put(Table::Chunks, &chunk_key(&r.blob, 0), &chunk[..chunk.len() - 5]).unwrap();
        // item-03: a chunk byte flipped
        let r = item_record(tx, "item-03");
        let mut chunk = tx.chunk(&r.blob, 2).unwrap().unwrap();
        chunk[100] ^= 0x40;
        tx.put(Table::Chunks, &chunk_key(&r.blob, 2), &chunk).unwrap();
        // item-04: its record is not a record at all
        tx.put(Table::Items, &item_key("acme", "item-04"), b"garbage").unwrap();
        // an orphan chunk
        tx.put(Table::Chunks, &chunk_key(&[9; 16], 0), &[0; 40]).unwrap();
        // item-05: its recorded size lies
        let mut r = item_record(tx, "item-05");
        r.size += 1;
        tx.put(Table::Items, &item_key("acme", "item-05"), &codec::encode("item", &r).unwrap()).unwrap();
    });
    let vault = f.open(&f.vault_dir()).unwrap();
    for id in ["item-00", "item-01", "item-02", "item-03", "item-04", "item-05"] {
        let err = vault.get("acme", id, &f.keyring, &mut Vec::new()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Integrity, "{id}: {err}");
    }
    for id in ["item-06", "item-07"] {
        let mut out = Vec::new();
        vault.get("acme", id, &f.keyring, &mut out).unwrap();
        assert_eq!(&out, &f.contents[id]);
    }
    let structure = vault.verify(None, None).unwrap();
    let full = vault.verify(None, Some(&f.keyring)).unwrap();
    for report in [&structure, &full] {
        let text = report.problems.join("\n");
        for needle in ["item-00", "item-01", "item-02", "item-04", "item-05", "orphan chunks"] {
            assert!(text.contains(needle), "{needle} not reported:\n{text}");
        }
    }
    assert!(!structure.problems.join("\n").contains("item-03"), "a flipped chunk byte needs the key to see");
    assert!(full.problems.join("\n").contains("item-03"), "{:?}", full.problems);
    assert_eq!(full.decrypted, 2);
    // The listing still shows every item; the damaged ones have no level.
    let listed = vault.list("acme", None).unwrap();
    assert_eq!(listed.len(), 8);
    let unreadable: Vec<&str> =
        listed.iter().filter(|i| i.level.is_none()).map(|i| i.item.as_str()).collect();
    assert_eq!(unreadable, ["item-00", "item-04"]);
}

fn approve_grant(vault: &Vault, keyring: &mut Keyring, dir: &Path) -> (Identity, String) {
    let pass = Passphrase::new("pw".into());
    Workflow::new(vault).enroll_engineer("eve", &dir.join("eve.id"), &pass, CHEAP).unwrap();
    let levels = vec!["internal".to_string()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "c",
        duration_secs: None,
    };
    let id = id_hex(&Workflow::new(vault).create_request(&req).unwrap().id);
    let grant = lockbox::customer::approve_request(
        vault,
        keyring,
        &id,
        None,
        None,
        lockbox::customer::Confirmation::EngineersDigest(
            lockbox::customer::shown_digest(vault, &id).unwrap(),
        ),
    )
    .unwrap();
    (Identity::open(&dir.join("eve.id"), &pass).unwrap(), id_hex(&grant.id))
}

#[test]
fn backups_restore_everything_and_damaged_backups_are_refused() {
    let mut f = Fixture::new(6, 20_000);
    let vault = f.open(&f.vault_dir()).unwrap();
    let (eve, _) = approve_grant(&vault, &mut f.keyring, f.dir.path());
    Workflow::new(&vault)
        .deny_request(
            &id_hex(
                &Workflow::new(&vault)
                    .create_request(&NewRequest {
                        tenant: "acme",
                        engineer: "eve",
                        levels: &["secret".into()],
                        reason: "r",
                        case_id: "c2",
                        duration_secs: None,
                    })
                    .unwrap()
                    .id,
            ),
            None,
        )
        .unwrap();
    let backup = f.dir.path().join("vault.backup");
    let info = vault.backup(&backup, false).unwrap();
    let Verdict::Intact { head, .. } = vault.verify_audit(None).unwrap() else { panic!() };
    assert_eq!(info.audit_head, head);
    drop(vault);

    let restored_dir = f.dir.path().join("restored");
    let restored = Vault::restore(&backup, &restored_dir).unwrap();
    assert_eq!(restored.records, info.records);
    assert_eq!(restored.audit_head, head, "the restored chain verifies with the same head");
    let vault = f.open(&restored_dir).unwrap();
    assert!(vault.verify(None, Some(&f.keyring)).unwrap().problems.is_empty());
    for (id, data) in &f.contents {
        let mut out = Vec::new();
        vault.get("acme", id, &f.keyring, &mut out).unwrap();
        assert_eq!(&out, data);
    }
    assert_eq!(Workflow::new(&vault).requests(None, None).unwrap().len(), 2);
    assert_eq!(Workflow::new(&vault).grants(None, None).unwrap().len(), 1);
    let keys = Workflow::new(&vault).engineer_keys(&eve, "acme").unwrap();
    let mut out = Vec::new();
    vault.get("acme", "item-00", &keys, &mut out).unwrap();
    assert_eq!(&out, &f.contents["item-00"]);
    assert_eq!(Vault::restore(&backup, &restored_dir).unwrap_err().kind, ErrorKind::Conflict);
    drop(vault);

    // Damaged backups: every one refused with an offset, and no vault left behind.
    let good = std::fs::read(&backup).unwrap();
    let mut rng = Rng(99);
    let mut cases: Vec<(String, Vec<u8>)> = (0..25)
        .map(|_| {
            let mut b = good.clone();
            let at = rng.below(b.len() as u64) as usize;
            b[at] ^= 1 << rng.below(8);
            (format!("flip at {at}"), b)
        })
        .collect();
    cases.push(("truncated".into(), good[..good.len() / 2].to_vec()));
    cases.push(("trailer cut".into(), good[..good.len() - 1].to_vec()));
    cases.push(("extra byte".into(), [&good[..], &[0]].concat()));
    cases.push(("empty".into(), vec![]));
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let file = f.dir.path().join(format!("bad-{i}"));
        std::fs::write(&file, bytes).unwrap();
        let target = f.dir.path().join(format!("target-{i}"));
        let err = Vault::restore(&file, &target).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Integrity, "{what}: {err}");
        assert!(err.message.contains("offset"), "{what}: {err}");
        assert!(!target.join(DB_FILE).exists(), "{what}: a vault was left behind");
    }
}

#[test]
fn threads_share_one_vault() {
    let f = Fixture::new(2, 100);
    let vault = f.open(&f.vault_dir()).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (vault, keyring) = (&vault, &f.keyring);
            s.spawn(move || {
                for i in 0..15 {
                    let id = format!("t{t}-{i}");
                    let data = vec![t as u8; 1000 + i * 500];
                    vault.put("acme", &id, "secret", &mut Cursor::new(&data), PutOptions::default()).unwrap();
                    let mut out = Vec::new();
                    vault.get("acme", &id, keyring, &mut out).unwrap();
                    assert_eq!(out, data);
                    let mut old = Vec::new();
                    vault.get("acme", "item-00", keyring, &mut old).unwrap();
                }
            });
        }
    });
    assert_eq!(vault.list("acme", None).unwrap().len(), 2 + 60);
    assert!(vault.verify(None, Some(&f.keyring)).unwrap().problems.is_empty());
    assert!(matches!(vault.verify_audit(None).unwrap(), Verdict::Intact { count, .. } if count > 120));
}

/// A reader that, once `after` bytes were read, waits until the put has staged `staged`
/// chunks, then removes them and the blob's mark through a second handle, as a sweep that
/// wrongly took the put for dead would.
struct SweptMidway<'a> {
    data: Cursor<Vec<u8>>,
    after: u64,
    staged: u64,
    other: &'a RedbStore,
    swept: bool,
}

impl std::io::Read for SweptMidway<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.swept && self.data.position() >= self.after {
            let started = std::time::Instant::now();
            let blob = loop {
                let r = self.other.begin_raw_read().unwrap();
                if let Some(blob) = r.staging().unwrap().first().copied() {
                    let mut chunks = 0;
                    r.for_each_chunk(&mut |c| {
                        chunks += u64::from(c.unwrap().0 == blob);
                        Ok(true)
                    })
                    .unwrap();
                    if chunks >= self.staged {
                        break blob;
                    }
                }
                assert!(started.elapsed() < std::time::Duration::from_secs(20), "nothing was staged");
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            let tx = self.other.begin_raw_write().unwrap();
            tx.remove_range(Table::Chunks, &chunk_key(&blob, 0), &chunk_key(&blob, u64::MAX)).unwrap();
            tx.remove(Table::Meta, &lockbox::store::raw::staging_key(&blob)).unwrap();
            tx.commit().unwrap();
            self.swept = true;
        }
        std::io::Read::read(&mut self.data, buf)
    }
}

/// Swept midway, a later group finds its mark gone; swept after the last group, the record's
/// transaction does. Either way nothing is stored and nothing is left.
#[test]
fn a_put_whose_staged_chunks_were_swept_stores_nothing() {
    let stage = lockbox::store::STAGE_BYTES as u64;
    // 64 KiB chunks: a group of STAGE_BYTES of ciphertext is this many of them.
    let group = stage / (64 * 1024);
    for (len, after, staged) in
        [(6 * stage, 2 * stage, group), (2 * stage + 300_000, 2 * stage + 300_000, 2 * group)]
    {
        let f = Fixture::new(0, 0);
        let vault = f.open(&f.vault_dir()).unwrap();
        let other = RedbStore::open(&f.db()).unwrap();
        let mut input = SweptMidway {
            data: Cursor::new(vec![9u8; len as usize]),
            after,
            staged,
            other: &other,
            swept: false,
        };
        let e = vault.put("acme", "big", "secret", &mut input, PutOptions::default()).unwrap_err();
        assert!(input.swept);
        if after < len {
            // The next group found the mark gone: the put stopped reading long before the end.
            assert!(input.data.position() < len - stage, "read {} of {len}", input.data.position());
        }
        assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
        assert!(e.message.contains("removed meanwhile"), "{e}");
        let r = other.begin_raw_read().unwrap();
        assert!(r.item("acme", "big").unwrap().is_none());
        assert!(r.staging().unwrap().is_empty());
        assert!(vault.verify(None, None).unwrap().problems.is_empty(), "no chunk of it is left");
    }
}

/// Keys that, when a get asks for its unwrapper (after it read the item's record, before it
/// reads the chunks), first let another writer replace the item, as a second process would.
struct ReplacedMeanwhile<'a> {
    keys: &'a Keyring,
    other: &'a Vault,
}

impl lockbox::vault::LevelKeys for ReplacedMeanwhile<'_> {
    fn unwrapper(
        &self,
        header: &lockbox::format::Header,
    ) -> Result<Box<dyn lockbox::crypto::KeyUnwrap + '_>, lockbox::vault::Error> {
        let newer = vec![2u8; 300_000];
        let opts = PutOptions { replace: true, chunk_size: 4096 };
        self.other.put("acme", &header.item, &header.level, &mut Cursor::new(newer), opts).unwrap();
        self.keys.unwrapper(header)
    }
}

/// A get reads the version it found, whole, even when another writer replaces (and so removes
/// the chunks of) that version while the get is under way.
#[test]
fn a_get_reads_the_version_it_found_while_another_writer_replaces_it() {
    let f = Fixture::new(2, 200_000);
    let vault = f.open(&f.vault_dir()).unwrap();
    let other = f.open(&f.vault_dir()).unwrap();
    for (id, original) in &f.contents {
        let mut out = Vec::new();
        vault.get("acme", id, &ReplacedMeanwhile { keys: &f.keyring, other: &other }, &mut out).unwrap();
        assert!(&out == original, "{id}: the version found when the get began");
        let mut now = Vec::new();
        vault.get("acme", id, &f.keyring, &mut now).unwrap();
        assert_eq!(now, vec![2u8; 300_000], "{id}: the replacement is there");
    }
}

/// An envelope reader that rotates the level once its header was checked, as an approval in
/// another process would (an approval rotates the levels it releases).
struct RotatedMeanwhile<'a> {
    data: Cursor<Vec<u8>>,
    vault: &'a Vault,
    keyring: std::cell::RefCell<&'a mut Keyring>,
    rotated: bool,
}

impl std::io::Read for RotatedMeanwhile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Midway through the payload: after the header was read and checked.
        if !self.rotated && self.data.position() > self.data.get_ref().len() as u64 / 2 {
            lockbox::customer::rotate_level(
                self.vault,
                &mut self.keyring.borrow_mut(),
                "acme",
                "secret",
                false,
            )
            .unwrap();
            self.rotated = true;
        }
        std::io::Read::read(&mut self.data, buf)
    }
}

/// `put --raw` of an envelope wrapped to the epoch that a rotation just retired (and an
/// approval just released) stores nothing: the commit finds the level re-keyed.
#[test]
fn a_raw_put_that_races_a_rotation_stores_nothing() {
    let mut f = Fixture::new(2, 100_000);
    let vault = f.open(&f.vault_dir()).unwrap();
    let mut envelope = Vec::new();
    vault.get_raw("acme", "item-01", &mut envelope).unwrap();
    vault.remove("acme", "item-01").unwrap();
    let mut input = RotatedMeanwhile {
        data: Cursor::new(envelope),
        vault: &vault,
        keyring: std::cell::RefCell::new(&mut f.keyring),
        rotated: false,
    };
    let e = vault.put_raw("acme", "item-01", None, &mut input, false).unwrap_err();
    assert!(input.rotated);
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    assert!(e.message.contains("re-keyed"), "{e}");
    assert!(vault.item("acme", "item-01").is_err(), "nothing stored");
}

/// An item reader that has the customer sign a new manifest (same keys) midway, as a
/// `tenant refresh` in another process would.
struct RefreshedMeanwhile<'a> {
    data: Cursor<Vec<u8>>,
    vault: &'a Vault,
    keyring: &'a mut Keyring,
    refreshed: bool,
}

impl std::io::Read for RefreshedMeanwhile<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.refreshed && self.data.position() > self.data.get_ref().len() as u64 / 2 {
            lockbox::customer::refresh_manifest(self.vault, self.keyring, "acme").unwrap();
            self.refreshed = true;
        }
        std::io::Read::read(&mut self.data, buf)
    }
}

/// A put that a manifest refresh overtakes is stored (its key is still the level's) and its
/// audit entry names the manifest trusted when it was stored: the customer's check finds
/// nothing amiss.
#[test]
fn a_put_overtaken_by_a_manifest_refresh_logs_the_manifest_it_was_stored_under() {
    let mut f = Fixture::new(0, 0);
    let vault = f.open(&f.vault_dir()).unwrap();
    let data = vec![5u8; 200_000];
    let mut input = RefreshedMeanwhile {
        data: Cursor::new(data.clone()),
        vault: &vault,
        keyring: &mut f.keyring,
        refreshed: false,
    };
    vault.put("acme", "doc", "internal", &mut input, PutOptions::default()).unwrap();
    assert!(input.refreshed);
    let (_, entries) = lockbox::customer::checked_entries(&vault, &mut f.keyring, "acme").unwrap();
    let problems = lockbox::customer::check_items(&vault, "acme", &entries).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}
