//! `import` and `export`: directories in and out, engineers exporting only what is released,
//! conflicts refused before anything is written, unsafe ids never written outside the target.

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use lockbox::keyring::{Identity, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex};
use lockbox::vault::{ErrorKind, PutOptions, Vault};

use crate::kit::CHEAP;
use lockbox::lockbox::Workflow;

fn tree(root: &Path, files: &[(&str, &[u8])]) {
    for (path, data) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
}

fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![root.to_owned()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn import_then_export_gives_back_the_same_tree() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap();
    let pass = Passphrase::new("pw".into());
    let mut keyring = Keyring::create(&dir.path().join("k"), &pass, CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into(), "secret".into()])
        .unwrap();
    let big = vec![5u8; 300_000];
    tree(
        &dir.path().join("in"),
        &[("a.txt", b"alpha"), ("docs/b.md", b"bravo"), ("docs/deep/c", b""), ("big.bin", &big)],
    );
    let mut seen = Vec::new();
    let r = vault
        .import_dir("acme", "internal", &dir.path().join("in"), false, &mut |d, t| seen.push((d, t)))
        .unwrap();
    assert_eq!((r.items, r.bytes), (4, 5 + 5 + 300_000));
    assert_eq!(seen.last(), Some(&(4, 4)));
    let ids: Vec<String> = vault.list("acme", None).unwrap().into_iter().map(|i| i.item).collect();
    assert_eq!(ids, ["a.txt", "big.bin", "docs/b.md", "docs/deep/c"]);

    // Without --replace, an existing id stops the import before anything is written.
    tree(&dir.path().join("more"), &[("new.txt", b"new"), ("a.txt", b"changed")]);
    let err =
        vault.import_dir("acme", "internal", &dir.path().join("more"), false, &mut |_, _| {}).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(vault.item("acme", "new.txt").is_err(), "nothing was imported");
    vault.import_dir("acme", "internal", &dir.path().join("more"), true, &mut |_, _| {}).unwrap();

    let r = vault.export_dir("acme", &keyring, &dir.path().join("out"), false, &mut |_, _| {}).unwrap();
    assert_eq!(r.items, 5);
    assert!(r.skipped.is_empty());
    let mut expected = read_tree(&dir.path().join("in"));
    expected.retain(|(p, _)| p != "a.txt");
    expected.push(("a.txt".into(), b"changed".to_vec()));
    expected.push(("new.txt".into(), b"new".to_vec()));
    expected.sort();
    assert_eq!(read_tree(&dir.path().join("out")), expected, "every item, and no temp file left");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("out/docs/b.md")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "decrypted files are readable by their owner only");
    }

    // Exporting again does not overwrite what is there, unless asked to.
    std::fs::write(dir.path().join("out/a.txt"), b"edited by the user").unwrap();
    let r = vault.export_dir("acme", &keyring, &dir.path().join("out"), false, &mut |_, _| {}).unwrap();
    assert_eq!((r.items, r.bytes, r.skipped.len()), (0, 0, 5));
    assert!(
        r.skipped
            .iter()
            .all(|(_, e)| e.kind == ErrorKind::Conflict && e.remedy == Some(lockbox::vault::Remedy::Replace))
    );
    assert_eq!(std::fs::read(dir.path().join("out/a.txt")).unwrap(), b"edited by the user");
    let r = vault.export_dir("acme", &keyring, &dir.path().join("out"), true, &mut |_, _| {}).unwrap();
    assert_eq!((r.items, r.skipped.len()), (5, 0));
    assert_eq!(read_tree(&dir.path().join("out")), expected);
    let actions: Vec<String> =
        vault.audit_entries(Some("acme")).unwrap().into_iter().map(|e| e.action().to_owned()).collect();
    assert!(actions.contains(&"import".to_string()) && actions.contains(&"export".to_string()));
}

#[test]
fn engineers_export_only_released_levels_and_unsafe_ids_stay_inside() {
    let dir = tempfile::tempdir().unwrap();
    let mut vault = Vault::init(&dir.path().join("v")).unwrap();
    vault.set_actor("alice");
    let pass = Passphrase::new("pw".into());
    let mut keyring = Keyring::create(&dir.path().join("k"), &pass, CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into(), "secret".into()])
        .unwrap();
    for (id, level) in [("ok/i", "internal"), ("s", "secret")] {
        vault.put("acme", id, level, &mut Cursor::new(id.as_bytes()), PutOptions::default()).unwrap();
    }
    // Ids that are not safe relative paths are refused when written now, but items written
    // before that rule, or by whoever holds the database, may still have them.
    let unsafe_ids = ["../escape", "/abs", "a//b"];
    for id in unsafe_ids {
        let e = vault.put("acme", id, "internal", &mut Cursor::new(id.as_bytes()), PutOptions::default());
        assert_eq!(e.unwrap_err().kind, ErrorKind::Usage, "{id}");
    }
    let public = vault.tenant("acme").unwrap().levels[0].epochs[0].public;
    let pins = vault.pins().clone();
    drop(vault);
    plant_items(&dir.path().join("v"), "internal", &public, &unsafe_ids);
    let mut vault = Vault::open(&dir.path().join("v")).unwrap().with_pins(pins);
    vault.set_actor("alice");
    Workflow::new(&vault).enroll_engineer("eve", &dir.path().join("eve"), &pass, CHEAP).unwrap();
    let levels = vec!["internal".to_string()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "c",
        duration_secs: None,
    };
    let id = id_hex(&Workflow::new(&vault).create_request(&req).unwrap().id);
    lockbox::customer::approve_request(
        &vault,
        &mut keyring,
        &id,
        None,
        None,
        lockbox::customer::Confirmation::EngineersDigest(
            lockbox::customer::shown_digest(&vault, &id).unwrap(),
        ),
    )
    .unwrap();
    let eve = Identity::open(&dir.path().join("eve"), &pass).unwrap();
    let keys = Workflow::new(&vault).engineer_keys(&eve, "acme").unwrap();
    let out = dir.path().join("out");
    let r = vault.export_dir("acme", &keys, &out, false, &mut |_, _| {}).unwrap();
    assert_eq!(r.items, 1);
    let mut skipped: Vec<(String, ErrorKind)> = r.skipped.into_iter().map(|(id, e)| (id, e.kind)).collect();
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        skipped,
        [
            ("../escape".into(), ErrorKind::Usage),
            ("/abs".into(), ErrorKind::Usage),
            ("a//b".into(), ErrorKind::Usage),
        ]
    );
    assert_eq!(r.out_of_scope, 1, "the secret item is outside the grant, not a failure");
    assert_eq!(read_tree(&out), [("ok/i".to_string(), b"ok/i".to_vec())]);
    assert!(!dir.path().join("escape").exists());
}

#[test]
fn cli_import_export_summaries_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(args)
            .env("LOCKBOX_VAULT", dir.path().join("v"))
            .env("LOCKBOX_TRUST", dir.path().join("trust"))
            .env("LOCKBOX_PASSPHRASE", "a passphrase of some length")
            .output()
            .unwrap()
    };
    let k = dir.path().join("k").to_string_lossy().into_owned();
    assert!(run(&["init"]).status.success());
    assert!(run(&["tenant", "create", "acme", "--levels", "internal", "--keyring", &k]).status.success());
    tree(&dir.path().join("in"), &[("x/1", b"one"), ("x/2", b"two")]);
    let out = run(&["import", "acme", "--level", "internal", &dir.path().join("in").to_string_lossy()]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("imported 2 items (6 B)"), "{out:?}");
    assert_eq!(
        run(&["import", "acme", "--level", "internal", &dir.path().join("in").to_string_lossy()])
            .status
            .code(),
        Some(6)
    );
    assert_eq!(
        run(&["import", "acme", "--level", "internal", &dir.path().join("nowhere").to_string_lossy()])
            .status
            .code(),
        Some(3)
    );
    let out = run(&["export", "acme", &dir.path().join("out").to_string_lossy(), "--keyring", &k]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("exported 2 items (6 B)"), "{out:?}");
    assert_eq!(std::fs::read(dir.path().join("out/x/2")).unwrap(), b"two");
    assert_eq!(run(&["export", "acme", &dir.path().join("o2").to_string_lossy()]).status.code(), Some(2));
}

/// Import transactions end every 4,096 items or STAGE_BYTES: one audit entry each, none empty, and
/// every item reads back whichever batch it fell in.
#[test]
fn import_batches_end_exactly_at_their_limits() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap();
    let pass = Passphrase::new("pw".into());
    let mut keyring = Keyring::create(&dir.path().join("k"), &pass, CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into()]).unwrap();
    // Each import entry: its level, epoch, count and item ids, and whether it names the
    // manifest the tenant had when it was written.
    let imports = |vault: &Vault| -> Vec<(String, u32, u64, Vec<String>, bool)> {
        let entries = vault.audit_entries(Some("acme")).unwrap();
        let current = lockbox::vault::manifest_hash(&vault.tenant("acme").unwrap().manifest);
        entries
            .into_iter()
            .filter_map(|e| match e.event {
                lockbox::audit::Event::Import { level, epoch, manifest, count, items } => Some((
                    level,
                    epoch,
                    count,
                    items.into_iter().map(|l| l.item).collect(),
                    manifest == current,
                )),
                _ => None,
            })
            .collect()
    };

    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let r = vault.import_dir("acme", "internal", &dir.path().join("empty"), false, &mut |_, _| {}).unwrap();
    assert_eq!((r.items, r.bytes), (0, 0));
    assert!(imports(&vault).is_empty(), "an empty directory commits nothing");

    // Exactly one full batch by count.
    let src = dir.path().join("count");
    for i in 0..4096 {
        tree(&src, &[(&format!("d{}/f{i:05}", i % 7), format!("item {i}").as_bytes())]);
    }
    let r = vault.import_dir("acme", "internal", &src, false, &mut |_, _| {}).unwrap();
    assert_eq!(r.items, 4096);
    assert_eq!(imports(&vault).len(), 1, "{:?}", imports(&vault));
    assert_eq!(imports(&vault)[0].2, 4096);
    assert_eq!(imports(&vault)[0].3.len(), 4096, "every item of the batch is logged");

    // By bytes: one more file of 1 MiB (large, streamed) than a batch holds, and small ones
    // after: STAGE_BYTES ends a batch.
    let src = dir.path().join("bytes");
    let big = vec![7u8; 1 << 20];
    let per = (lockbox::store::STAGE_BYTES >> 20) as u64;
    for i in 0..=per {
        tree(&src, &[(&format!("a{i}"), &big)]);
    }
    tree(&src, &[("b", b"small"), ("c", b"")]);
    let r = vault.import_dir("acme", "internal", &src, false, &mut |_, _| {}).unwrap();
    assert_eq!((r.items, r.bytes), (per + 3, (per + 1) * (1 << 20) + 5));
    let details: Vec<_> =
        imports(&vault)[1..].iter().map(|(l, e, n, ids, _)| (l.clone(), *e, *n, ids.clone())).collect();
    let first: Vec<String> = (0..per).map(|i| format!("a{i}")).collect();
    let second = vec![format!("a{per}"), "b".into(), "c".into()];
    assert_eq!(details, [("internal".to_owned(), 1, per, first), ("internal".to_owned(), 1, 3, second)]);
    assert!(imports(&vault).iter().all(|d| d.4), "each names the manifest it wrote under");
    let mut out = Vec::new();
    vault.get("acme", &format!("a{per}"), &keyring, &mut out).unwrap();
    assert_eq!(out, big);
    out.clear();
    vault.get("acme", "c", &keyring, &mut out).unwrap();
    assert!(out.is_empty());

    // A file over one staged group is imported alone, between the batches around it.
    let src = dir.path().join("huge");
    let huge: Vec<u8> = (0..lockbox::store::STAGE_BYTES + 1).map(|i| (i % 253) as u8).collect();
    tree(&src, &[("m", b"before"), ("n", &huge), ("o", b"after")]);
    let r = vault.import_dir("acme", "internal", &src, false, &mut |_, _| {}).unwrap();
    assert_eq!((r.items, r.bytes), (3, huge.len() as u64 + 11));
    let details = imports(&vault);
    let tail: Vec<&[String]> = details[3..].iter().map(|d| &d.3[..]).collect();
    assert_eq!(tail, [["m"], ["n"], ["o"]]);
    out.clear();
    vault.get("acme", "n", &keyring, &mut out).unwrap();
    assert!(out == huge, "the staged file reads back");
    // Without --replace, the staged path refuses an existing id too (checked before anything).
    let err = vault.import_dir("acme", "internal", &src, false, &mut |_, _| {}).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    vault.import_dir("acme", "internal", &src, true, &mut |_, _| {}).unwrap();
    out.clear();
    vault.get("acme", "n", &keyring, &mut out).unwrap();
    assert!(out == huge);
    assert!(vault.verify(None, Some(&keyring)).unwrap().problems.is_empty());
}

/// Writes items with the given ids straight into the database, as the operator (or a lockbox
/// older than the item id rule) could: real envelopes sealed to `public`, their content the id.
fn plant_items(vault_dir: &Path, level: &str, public: &[u8; 32], ids: &[&str]) {
    use lockbox::format::Header;
    use lockbox::store::records::ItemRecord;
    use lockbox::store::{RedbStore, Writes};
    use lockbox::vault::{DB_FILE, ItemFields, seal_envelope};
    let store = RedbStore::open(&vault_dir.join(DB_FILE)).unwrap();
    let tx = store.begin_raw_write().unwrap();
    for (n, id) in ids.iter().enumerate() {
        let fields = ItemFields { tenant: "acme", level, item: id, epoch: 1, chunk_size: 65_472 };
        let seed = n as u8 + 1;
        let envelope =
            seal_envelope(&fields, public, [seed; 32], [seed; 32], [seed ^ 0x55; 32], id.as_bytes()).unwrap();
        let len = Header::declared_len(&envelope).unwrap();
        let record = ItemRecord {
            header: envelope[..len].to_vec(),
            size: id.len() as u64,
            created: 1,
            blob: [seed; 16],
            chunks: 1,
            inline: Some(envelope[len..].to_vec()),
        };
        tx.put_item("acme", id, &record).unwrap();
    }
    tx.commit().unwrap();
}
