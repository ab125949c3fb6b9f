//! The store contract (src/store/mod.rs), held against every engine: the vault's database file
//! (redb), the in-memory store, and PostgreSQL when `LOCKBOX_TEST_POSTGRES` names a server
//! (`postgres://USER:PASSWORD@HOST:PORT`, a role that may create databases: each check gets a
//! database of its own, dropped after). Without it the PostgreSQL half is skipped and says so,
//! except under CI (`CI` set), where a missing database is a failure. Each check runs once per
//! engine; the last runs the same vault work on a vault of each and compares what they keep.

use std::io::Cursor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lockbox::store::raw::{RawWrite, Table, item_key};
use lockbox::store::records::{AuditEntry, EngineerRecord, ItemRecord, TenantRecord};
use lockbox::store::{MemoryStore, PgStore, Reads, RedbStore, Store};

use crate::kit::TestDatabase;

/// An engine under test.
enum Engine {
    /// The store and the directory of its file, removed when the test ends.
    Redb(RedbStore, #[allow(dead_code)] tempfile::TempDir),
    Memory(MemoryStore),
    /// The store (dropped first, closing its connections) and its database, dropped after.
    Postgres(Box<PgStore>, #[allow(dead_code)] TestDatabase),
}

impl Engine {
    fn all() -> Vec<Engine> {
        let dir = tempfile::tempdir().unwrap();
        let redb = RedbStore::create(&dir.path().join("vault.redb")).unwrap();
        let mut all = vec![Engine::Redb(redb, dir), Engine::Memory(MemoryStore::new())];
        if let Some(db) = TestDatabase::new() {
            all.push(Engine::Postgres(Box::new(PgStore::create(&db.url()).unwrap()), db));
        }
        all
    }

    fn name(&self) -> &'static str {
        match self {
            Engine::Redb(..) => "redb",
            Engine::Memory(_) => "memory",
            Engine::Postgres(..) => "postgres",
        }
    }

    fn store(&self) -> &dyn Store {
        match self {
            Engine::Redb(s, _) => s,
            Engine::Memory(s) => s,
            Engine::Postgres(s, _) => &**s,
        }
    }

    /// Writes bytes that are not a record, as damage to the engine's file would.
    fn raw_put(&self, table: Table, key: &[u8], value: &[u8]) {
        match self {
            Engine::Redb(s, _) => {
                let tx = s.begin_raw_write().unwrap();
                tx.put(table, key, value).unwrap();
                tx.commit().unwrap();
            }
            Engine::Memory(s) => {
                let tx = s.begin_raw_write();
                tx.put(table, key, value).unwrap();
                tx.commit().unwrap();
            }
            Engine::Postgres(s, _) => {
                let tx = s.begin_raw_write().unwrap();
                tx.put(table, key, value).unwrap();
                tx.commit().unwrap();
            }
        }
    }
}

fn tenant(name: &str) -> TenantRecord {
    TenantRecord {
        name: name.into(),
        created: 7,
        levels: vec![],
        signer: [1; 32],
        manifest: String::new(),
        checkpoint: String::new(),
    }
}

fn item(blob: u8, chunks: u64) -> ItemRecord {
    ItemRecord { header: vec![blob; 40], size: 10, created: 1, blob: [blob; 16], chunks, inline: None }
}

fn entry(seq: u64) -> AuditEntry {
    AuditEntry {
        seq,
        time: seq,
        actor: "a".into(),
        tenant: "t".into(),
        subject: "s".into(),
        event: lockbox::audit::Event::Rm,
        prev: [0; 32],
        chain: seq,
        chain_prev: if seq == 1 { [0; 32] } else { [seq as u8 - 1; 32] },
        hash: [seq as u8; 32],
    }
}

fn ids(store: &dyn Store, tenant: &str) -> Vec<String> {
    store.begin_read().unwrap().items(tenant).unwrap().into_iter().map(|(id, _)| id).collect()
}

#[test]
fn a_transaction_is_seen_whole_after_commit_and_not_at_all_before() {
    for e in Engine::all() {
        let s = e.store();
        let tx = s.begin_write().unwrap();
        tx.put_tenant(&tenant("acme")).unwrap();
        tx.put_item("acme", "a", &item(1, 1)).unwrap();
        assert!(tx.tenant("acme").unwrap().is_some(), "{}: a transaction sees its own writes", e.name());
        drop(tx);
        assert!(
            s.begin_read().unwrap().tenant("acme").unwrap().is_none(),
            "{}: dropped, yet visible",
            e.name()
        );

        let tx = s.begin_write().unwrap();
        tx.put_tenant(&tenant("acme")).unwrap();
        tx.put_item("acme", "a", &item(1, 1)).unwrap();
        tx.commit().unwrap();
        let r = s.begin_read().unwrap();
        assert_eq!(r.tenant("acme").unwrap(), Some(tenant("acme")), "{}", e.name());
        assert_eq!(r.item("acme", "a").unwrap(), Some(item(1, 1)), "{}", e.name());
    }
}

#[test]
fn tenants_and_engineers_are_removed_by_name() {
    for e in Engine::all() {
        let s = e.store();
        let tx = s.begin_write().unwrap();
        tx.put_tenant(&tenant("acme")).unwrap();
        tx.put_tenant(&tenant("acme2")).unwrap();
        tx.put_engineer(&EngineerRecord { name: "eve".into(), public: [3; 32], created: 1 }).unwrap();
        tx.commit().unwrap();
        let tx = s.begin_write().unwrap();
        assert!(tx.remove_tenant("acme").unwrap(), "{}", e.name());
        assert!(!tx.remove_tenant("acme").unwrap(), "{}: removed twice", e.name());
        assert!(tx.remove_engineer("eve").unwrap(), "{}", e.name());
        tx.commit().unwrap();
        let r = s.begin_read().unwrap();
        assert_eq!(r.tenants().unwrap(), [tenant("acme2")], "{}", e.name());
        assert!(r.engineers().unwrap().is_empty(), "{}", e.name());
    }
}

#[test]
fn a_snapshot_sees_exactly_the_commits_before_it() {
    for e in Engine::all() {
        let s = e.store();
        let before = s.begin_read().unwrap();
        let tx = s.begin_write().unwrap();
        tx.put_engineer(&EngineerRecord { name: "eve".into(), public: [3; 32], created: 1 }).unwrap();
        tx.commit().unwrap();
        let after = s.begin_read().unwrap();
        assert!(before.engineer("eve").unwrap().is_none(), "{}: the old snapshot moved", e.name());
        assert!(after.engineer("eve").unwrap().is_some(), "{}", e.name());
    }
}

#[test]
fn one_writer_at_a_time() {
    for e in Engine::all() {
        let s = e.store();
        let committing = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let first = s.begin_write().unwrap();
            let second = scope.spawn(|| {
                let tx = s.begin_write().unwrap();
                // Only possible once the first has committed.
                assert!(committing.load(Ordering::SeqCst), "{}: two writers at once", e.name());
                let n = tx.tenants().unwrap().len();
                tx.put_tenant(&tenant("second")).unwrap();
                tx.commit().unwrap();
                n
            });
            std::thread::sleep(Duration::from_millis(100));
            first.put_tenant(&tenant("first")).unwrap();
            committing.store(true, Ordering::SeqCst);
            first.commit().unwrap();
            assert_eq!(
                second.join().unwrap(),
                1,
                "{}: the second writer missed the first's commit",
                e.name()
            );
        });
        assert_eq!(s.begin_read().unwrap().tenants().unwrap().len(), 2);
    }
}

#[test]
fn items_of_a_tenant_only_in_id_order_and_their_chunks_go_with_them() {
    for e in Engine::all() {
        let s = e.store();
        let tx = s.begin_write().unwrap();
        for (t, id, blob) in [("acme", "b", 2), ("acme", "a", 1), ("acme2", "a", 3), ("acm", "z", 4)] {
            tx.put_item(t, id, &item(blob, 2)).unwrap();
            tx.put_chunk(&[blob; 16], 0, &[blob; 5]).unwrap();
            tx.put_chunk(&[blob; 16], 1, &[blob; 6]).unwrap();
        }
        tx.commit().unwrap();
        assert_eq!(ids(s, "acme"), ["a", "b"], "{}", e.name());
        let r = s.begin_read().unwrap();
        let mut wanted = ["x", "b", "a"].into_iter();
        assert_eq!(r.first_item_present("acme", &mut wanted).unwrap(), Some(1), "{}", e.name());
        assert_eq!(r.first_item_present("acme", &mut ["z"].into_iter()).unwrap(), None, "{}", e.name());
        assert_eq!(r.chunk(&[2; 16], 1).unwrap(), Some(vec![2; 6]), "{}", e.name());
        drop(r);

        let tx = s.begin_write().unwrap();
        tx.remove_item("acme", "b", &item(2, 2)).unwrap();
        tx.commit().unwrap();
        let r = s.begin_read().unwrap();
        assert_eq!(r.chunk(&[2; 16], 0).unwrap(), None, "{}: chunks outlived their item", e.name());
        let mut chunks = Vec::new();
        r.for_each_chunk(&mut |c| {
            chunks.push(c.unwrap());
            Ok(true)
        })
        .unwrap();
        assert_eq!(
            chunks,
            [([1; 16], 0), ([1; 16], 1), ([3; 16], 0), ([3; 16], 1), ([4; 16], 0), ([4; 16], 1)]
        );
    }
}

#[test]
fn a_damaged_record_is_reported_alone() {
    for e in Engine::all() {
        let s = e.store();
        let tx = s.begin_write().unwrap();
        for id in ["a", "b", "c"] {
            tx.put_item("acme", id, &item(1, 1)).unwrap();
        }
        tx.commit().unwrap();
        e.raw_put(Table::Items, &item_key("acme", "b"), b"garbage");
        let items = s.begin_read().unwrap().items("acme").unwrap();
        let ok: Vec<bool> = items.iter().map(|(_, r)| r.is_ok()).collect();
        assert_eq!(ok, [true, false, true], "{}", e.name());
        assert!(s.begin_read().unwrap().item("acme", "b").is_err(), "{}", e.name());
    }
}

#[test]
fn audit_entries_append_in_sequence_only() {
    for e in Engine::all() {
        let s = e.store();
        let tx = s.begin_write().unwrap();
        assert!(tx.append_audit(&entry(2)).is_err(), "{}: the log must start at 1", e.name());
        tx.append_audit(&entry(1)).unwrap();
        tx.append_audit(&entry(2)).unwrap();
        assert!(tx.append_audit(&entry(2)).is_err(), "{}: two entries numbered 2", e.name());
        assert!(tx.append_audit(&entry(4)).is_err(), "{}: a gap in the log", e.name());
        let skips_the_tenant_chain = AuditEntry { seq: 3, chain: 4, ..entry(3) };
        assert!(
            tx.append_audit(&skips_the_tenant_chain).is_err(),
            "{}: a gap in the tenant's chain",
            e.name()
        );
        let forks = AuditEntry { seq: 3, chain_prev: [9; 32], ..entry(3) };
        assert!(tx.append_audit(&forks).is_err(), "{}: not linked to the tenant's head", e.name());
        let vault_wide = AuditEntry { tenant: String::new(), ..entry(3) };
        assert!(tx.append_audit(&vault_wide).is_err(), "{}: no tenant, no chain", e.name());
        tx.commit().unwrap();
        let r = s.begin_read().unwrap();
        assert_eq!(r.last_audit().unwrap(), Some(entry(2)), "{}", e.name());
        assert_eq!(r.tenant_audit_head("t").unwrap(), Some((2, [2; 32])), "{}", e.name());
        assert_eq!(r.tenant_audit_head("u").unwrap(), None, "{}", e.name());
        let mut seen = Vec::new();
        r.for_each_audit(&mut |position, entry| {
            seen.push((position, entry.unwrap().seq));
            Ok(true)
        })
        .unwrap();
        assert_eq!(seen, [(1, 1), (2, 2)], "{}", e.name());
        drop(r);
        // Another tenant's entry between them, then one more of "t": a reader of "t" from its
        // position 2 gets exactly its entries 2 and 3, with their positions.
        let tx = s.begin_write().unwrap();
        let other = AuditEntry { seq: 3, tenant: "u".into(), chain: 1, chain_prev: [0; 32], ..entry(3) };
        tx.append_audit(&other).unwrap();
        let third = AuditEntry { seq: 4, chain: 3, chain_prev: [2; 32], hash: [4; 32], ..entry(4) };
        tx.append_audit(&third).unwrap();
        // Read inside the writing transaction too.
        let mut ours = Vec::new();
        tx.for_each_tenant_audit("t", 2, &mut |position, entry| {
            ours.push((position, entry.unwrap().seq));
            Ok(true)
        })
        .unwrap();
        assert_eq!(ours, [(2, 2), (3, 4)], "{}: inside the write", e.name());
        tx.commit().unwrap();
        let r = s.begin_read().unwrap();
        let mut ours = Vec::new();
        r.for_each_tenant_audit("t", 2, &mut |position, entry| {
            ours.push((position, entry.unwrap().seq));
            Ok(true)
        })
        .unwrap();
        assert_eq!(ours, [(2, 2), (3, 4)], "{}", e.name());
        let mut theirs = Vec::new();
        r.for_each_tenant_audit("u", 1, &mut |position, entry| {
            theirs.push((position, entry.unwrap().seq));
            Ok(true)
        })
        .unwrap();
        assert_eq!(theirs, [(1, 3)], "{}", e.name());
    }
}

#[test]
fn staged_chunks_are_visible_at_once_and_discarded_whole() {
    for e in Engine::all() {
        let s = e.store();
        s.stage_chunks(&[5; 16], &[(0, vec![1; 10]), (1, vec![2; 10])]).unwrap();
        s.stage_chunks(&[6; 16], &[(0, vec![3; 10])]).unwrap();
        assert_eq!(s.begin_read().unwrap().chunk(&[5; 16], 1).unwrap(), Some(vec![2; 10]), "{}", e.name());
        s.discard_chunks(&[5; 16]).unwrap();
        let r = s.begin_read().unwrap();
        assert_eq!(r.chunk(&[5; 16], 0).unwrap(), None, "{}", e.name());
        assert_eq!(
            r.chunk(&[6; 16], 0).unwrap(),
            Some(vec![3; 10]),
            "{}: discard took another blob",
            e.name()
        );
    }
}

#[test]
fn a_staged_blob_is_marked_until_its_record_ends_the_mark() {
    for e in Engine::all() {
        let s = e.store();
        s.stage_chunks(&[5; 16], &[(0, vec![1; 10])]).unwrap();
        s.stage_chunks(&[5; 16], &[(1, vec![2; 10])]).unwrap();
        s.stage_chunks(&[6; 16], &[(0, vec![3; 10])]).unwrap();
        assert_eq!(s.begin_read().unwrap().staging().unwrap(), [[5; 16], [6; 16]], "{}", e.name());
        // The record's transaction ends the mark, once; the chunks stay.
        let tx = s.begin_write().unwrap();
        assert!(tx.end_staging(&[5; 16]).unwrap(), "{}", e.name());
        assert!(!tx.end_staging(&[5; 16]).unwrap(), "{}", e.name());
        tx.commit().unwrap();
        s.release_staging(&[5; 16]);
        let r = s.begin_read().unwrap();
        assert_eq!(r.staging().unwrap(), [[6; 16]], "{}", e.name());
        assert_eq!(r.chunk(&[5; 16], 1).unwrap(), Some(vec![2; 10]), "{}", e.name());
        // A discard takes the mark with the chunks; a live claim is never swept.
        assert_eq!(s.sweep_staging().unwrap(), 0, "{}", e.name());
        s.discard_chunks(&[6; 16]).unwrap();
        let r = s.begin_read().unwrap();
        assert!(r.staging().unwrap().is_empty(), "{}", e.name());
        assert_eq!(r.chunk(&[6; 16], 0).unwrap(), None, "{}", e.name());
        let tx = s.begin_write().unwrap();
        assert!(!tx.end_staging(&[6; 16]).unwrap(), "{}: a discarded blob has no mark", e.name());
    }
}

/// Two handles on one file stand for two processes (each claim is a lock on a file of its
/// own): the other's live put is left alone, a dead one's chunks are swept, and a put whose
/// mark was swept cannot store its record.
#[test]
fn a_sweep_takes_only_what_no_live_put_claims() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.redb");
    drop(RedbStore::create(&path).unwrap());
    let writer = RedbStore::open(&path).unwrap();
    writer.stage_chunks(&[7; 16], &[(0, vec![7; 10])]).unwrap();
    let other = RedbStore::open(&path).unwrap();
    assert_eq!(other.sweep_staging().unwrap(), 0, "the writer is alive");
    assert_eq!(other.begin_raw_read().unwrap().chunk(&[7; 16], 0).unwrap(), Some(vec![7; 10]));
    // The writer dies: its claim goes with it, and the next open sweeps.
    drop(writer);
    let later = RedbStore::open(&path).unwrap();
    let r = later.begin_raw_read().unwrap();
    assert!(r.staging().unwrap().is_empty());
    assert_eq!(r.chunk(&[7; 16], 0).unwrap(), None, "the dead put's chunks are swept");
    assert!(std::fs::read_dir(dir.path().join("vault.redb.staging")).unwrap().next().is_none());
    drop(other);
}

#[test]
fn an_item_writer_writes_into_its_transaction() {
    for e in Engine::all() {
        let s = e.store();
        let tx = s.begin_write().unwrap();
        {
            let mut w = tx.item_writer().unwrap();
            w.put_chunk(&[7; 16], 0, b"ct").unwrap();
            w.put_item("acme", "x", &item(7, 1)).unwrap();
            assert_eq!(w.item("acme", "x").unwrap(), Some(item(7, 1)), "{}", e.name());
            w.remove_chunks(&[7; 16]).unwrap();
        }
        tx.commit().unwrap();
        let r = s.begin_read().unwrap();
        assert_eq!(r.item("acme", "x").unwrap(), Some(item(7, 1)), "{}", e.name());
        assert_eq!(r.chunk(&[7; 16], 0).unwrap(), None, "{}", e.name());
    }
}

#[test]
fn both_engines_keep_the_same_records_after_the_same_vault_work() {
    use lockbox::format::KdfParams;
    use lockbox::keyring::{Keyring, Passphrase};
    use lockbox::vault::{PutOptions, Vault};
    let dir = tempfile::tempdir().unwrap();
    let cheap = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), cheap).unwrap();
    let disk = Vault::init(&dir.path().join("vault")).unwrap();
    let memory = Vault::in_memory();
    let mut backups = Vec::new();
    for vault in [disk, memory] {
        let mut vault = vault;
        vault.set_actor("alice");
        match lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["secret".into()]) {
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        vault.put("acme", "big", "secret", &mut Cursor::new(&data), PutOptions::default()).unwrap();
        vault.put("acme", "small", "secret", &mut Cursor::new("s"), PutOptions::default()).unwrap();
        let mut out = Vec::new();
        vault.get("acme", "big", &keyring, &mut out).unwrap();
        assert_eq!(out, data);
        vault.remove("acme", "small").unwrap();
        assert!(vault.verify(None, Some(&keyring)).unwrap().problems.is_empty());
        let file = dir.path().join(format!("backup-{}", backups.len()));
        vault.backup(&file, false).unwrap();
        backups.push(std::fs::read(&file).unwrap());
    }
    // The records hold random ids, keys and times, so the two backups differ in content; their
    // shape (tables, record count, key lengths) must not.
    let shape = |b: &[u8]| lockbox::store::check_backup(&mut &b[..]).unwrap().records;
    assert_eq!(shape(&backups[0]), shape(&backups[1]));
}

/// PostgreSQL only: a database whose schema a newer lockbox migrated (a migration this binary
/// does not know) is refused, never used or changed back; a database without a vault is not
/// one, and a vault is never made twice.
#[test]
fn postgres_refuses_a_newer_schema_and_a_second_vault() {
    let Some(db) = TestDatabase::new() else { return };
    let store = PgStore::create(&db.url()).unwrap();
    assert!(matches!(PgStore::create(&db.url()), Err(lockbox::store::StoreError::Exists { .. })));
    drop(store);
    let mut admin = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute(
            "INSERT INTO refinery_schema_history (version, name, applied_on, checksum) VALUES (99, 'from_the_future', '2030-01-01T00:00:00Z', '0')",
        )
        .unwrap();
    let e = PgStore::open(&db.url()).err().expect("a newer schema is refused");
    assert!(e.to_string().contains("migrat"), "{e}");
    let empty = TestDatabase::new().unwrap();
    assert!(matches!(PgStore::open(&empty.url()), Err(lockbox::store::StoreError::Missing { .. })));
}

/// PostgreSQL only: a write the database ends to break a deadlock (40P01; a serialization
/// failure, 40001, is handled the same) runs again in a new transaction and succeeds: the
/// caller never sees the conflict, and the write is there once.
#[test]
fn postgres_runs_a_write_again_when_the_database_ends_it_for_a_conflict() {
    let Some(db) = TestDatabase::new() else { return };
    let vault = lockbox::vault::Vault::init(std::path::Path::new(&db.url())).unwrap();
    let mut other = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    let mut watch = postgres::Client::connect(&db.url(), postgres::NoTls).unwrap();
    // PostgreSQL ends the transaction whose deadlock check runs first, normally the one that
    // waited first (the enrollment's); on a busy machine it may be the other session's. Only a
    // round where the enrollment's was ended shows the retry, so rounds go on until one does.
    let mut retried = None;
    for round in 0..5 {
        let name = format!("bob{round}");
        // Another session writes the row the enrollment will write, and holds it uncommitted.
        let mut held = other.transaction().unwrap();
        held.execute("INSERT INTO lockbox_engineers (k, v) VALUES ($1, $2)", &[&name.as_bytes(), &&b"x"[..]])
            .unwrap();
        let ended_enrollment = std::thread::scope(|s| {
            let enroll = s.spawn(|| lockbox::lockbox::Workflow::new(&vault).enroll_public(&name, &[9; 32]));
            // Once the enrollment (holding the writer row) waits for that row, the other
            // session asks for the writer row: a deadlock.
            let waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while watch.query_one(waiting, &[]).unwrap().get::<_, i64>(0) == 0 {
                assert!(std::time::Instant::now() < deadline, "the enrollment never waited for the row");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let ended_enrollment =
                match held.query("SELECT id FROM lockbox_writer WHERE id = 1 FOR UPDATE", &[]) {
                    Ok(_) => true,
                    Err(e) => {
                        assert_eq!(e.code(), Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED), "{e}");
                        false
                    }
                };
            held.rollback().unwrap();
            let record = enroll.join().unwrap().expect("the enrollment succeeded");
            assert_eq!((record.name.as_str(), record.public), (name.as_str(), [9; 32]));
            ended_enrollment
        });
        if ended_enrollment {
            retried = Some(name);
            break;
        }
    }
    let name = retried.expect("in 5 rounds, PostgreSQL never ended the enrollment's transaction");
    let flow = lockbox::lockbox::Workflow::new(&vault);
    assert_eq!(flow.engineer(&name).unwrap().public, [9; 32]);
}
