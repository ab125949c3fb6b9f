//! The side-by-side table of docs/PERFORMANCE.md, every ratio measured in one run:
//!
//! ```sh
//! benches/compare.sh            # or: cargo bench --bench compare
//! ```
//!
//! 1. a large file (LOCKBOX_BENCH_MB, default 256): `lockbox put` / `get` against a durable plain
//!    copy (`cat` then `sync`), and against `age` encrypt /
//!    decrypt, file to file;
//! 2. LOCKBOX_BENCH_ITEMS (default 100,000) items of 1 KiB: `import` / `export` against inserting
//!    and reading the same plaintext straight into redb in one transaction;
//! 3. approving a grant on a tenant with 1,000 and with all those items;
//! 4. `level rotate --rewrap` over all those items;
//! 5. peak memory of put and get of a LOCKBOX_BENCH_BIG_MB (default 1024) item.
//!
//! LOCKBOX_BENCH_ONLY=large,items,memory runs only the parts named; LOCKBOX_BENCH_ROUNDS=1 also
//! prints every round of the large-file part, not only the best.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lockbox::format::KdfParams;
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex};
use lockbox::vault::Vault;
use redb::{ReadableDatabase, TableDefinition};

const KDF: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
const PASS: &str = "a bench passphrase";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Flushes earlier phases' dirty pages so that one measurement does not pay for another's.
fn settle() {
    let _ = Command::new("sync").status();
}

fn lockbox(vault: &Path, args: &[&str]) -> Duration {
    settle();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(args)
        .env("LOCKBOX_VAULT", vault)
        .env("LOCKBOX_TRUST", vault.with_extension("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "lockbox {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

/// Peak resident set (KiB) of a lockbox command, from GNU time.
fn peak_kib(vault: &Path, args: &[&str]) -> Option<u64> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(env!("CARGO_BIN_EXE_lockbox"))
        .args(args)
        .env("LOCKBOX_VAULT", vault)
        .env("LOCKBOX_TRUST", vault.with_extension("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stderr).lines().last()?.trim().parse().ok()
}

fn run(cmd: &str, args: &[&str]) -> Option<Duration> {
    if cmd != "sync" {
        settle();
    }
    let started = Instant::now();
    let ok =
        Command::new(cmd).args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().ok()?.success();
    ok.then(|| started.elapsed())
}

struct Row {
    what: String,
    ours: String,
    baseline: String,
    ratio: f64,
    target: &'static str,
}

/// Large-file measurements are repeated this many times and the fastest kept.
const ROUNDS: usize = 3;

fn rate(n: f64, d: Duration) -> f64 {
    n / d.as_secs_f64()
}

fn setup(dir: &Path, levels: &[&str]) -> (Vault, Keyring, PathBuf) {
    let vault_dir = dir.join("vault");
    // The CLI runs below pin against this trust store; the tenant's creator pins it.
    let pins = lockbox::trust::Pins::open(&vault_dir.with_extension("trust")).unwrap();
    let vault = Vault::init(&vault_dir).unwrap().with_pins(std::sync::Arc::new(pins));
    let mut keyring = Keyring::create(&dir.join("keyring"), &Passphrase::new(PASS.into()), KDF).unwrap();
    let levels: Vec<String> = levels.iter().map(|l| l.to_string()).collect();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &levels).unwrap();
    (vault, keyring, vault_dir)
}

fn random_file(path: &Path, bytes: u64) {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for b in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b.copy_from_slice(&state.to_le_bytes()[..b.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        std::io::Write::write_all(&mut f, &block[..n]).unwrap();
        left -= n as u64;
    }
}

fn large_file(rows: &mut Vec<Row>, tmp: &Path) {
    let mb = env_num("LOCKBOX_BENCH_MB", 256);
    let bytes = mb << 20;
    let dir = tmp.join("large");
    fs::create_dir_all(&dir).unwrap();
    let (vault, _, vault_dir) = setup(&dir, &["secret"]);
    drop(vault);
    let input = dir.join("input");
    random_file(&input, bytes);
    let keyring = dir.join("keyring").to_string_lossy().into_owned();
    let inp = input.to_string_lossy().into_owned();
    let key = dir.join("age.key").to_string_lossy().into_owned();
    let have_age = run("age-keygen", &["-o", &key]).is_some();
    let recipient = Command::new("age-keygen")
        .args(["-y", &key])
        .output()
        .ok()
        .filter(|_| have_age)
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let enc = dir.join("in.age").to_string_lossy().into_owned();
    if let Some(r) = &recipient {
        run("age", &["-r", r, "-o", &enc, &inp]);
    }

    // Rounds are interleaved (every command once per round, ROUNDS times; the best of each
    // kept), since this disk's speed drifts over a run. Every command writes a new file (put: a
    // new item), and each round begins by removing the last round's files, so that every
    // command writes into memory the kernel has just freed: on this VM, a copy into pages not
    // recently used took 0.87-1.05 s against 0.49-0.57 s into those of a file just removed.
    let out_dir = dir.join("out");
    let mut t: [Vec<Duration>; 7] = Default::default();
    let timed = |t: &mut Vec<Duration>, d: Option<Duration>| {
        if let Some(d) = d {
            t.push(d);
        }
    };
    for round in 0..ROUNDS {
        let _ = fs::remove_dir_all(&out_dir);
        fs::create_dir_all(&out_dir).unwrap();
        let out = |name: &str| out_dir.join(name).to_string_lossy().into_owned();
        // The disk's own pace for the same bytes: a durable plain copy (read, write, fsync; no
        // crypto), the ceiling put and get are measured against.
        let copy = out("copy");
        timed(&mut t[0], run("sh", &["-c", &format!("cat '{inp}' > '{copy}' && sync '{copy}'")]));
        let id = format!("big{round}");
        t[1].push(lockbox(&vault_dir, &["put", "acme", &id, "--level", "secret", "--file", &inp]));
        let got = out("got");
        t[2].push(lockbox(&vault_dir, &["get", "acme", &id, "--keyring", &keyring, "--out", &got]));
        assert_eq!(fs::metadata(&got).unwrap().len(), bytes);
        if let Some(r) = &recipient {
            let (e, d, es, ds) = (out("e.age"), out("d"), out("es.age"), out("ds"));
            timed(&mut t[3], run("age", &["-r", r, "-o", &e, &inp]));
            timed(&mut t[4], run("age", &["-d", "-i", &key, "-o", &d, &enc]));
            // The same work made durable, as lockbox's is: age, then fsync of what it wrote.
            let sync_after =
                |a: Option<Duration>, path: &str| a.zip(run("sync", &[path])).map(|(a, b)| a + b);
            timed(&mut t[5], sync_after(run("age", &["-r", r, "-o", &es, &inp]), &es));
            timed(&mut t[6], sync_after(run("age", &["-d", "-i", &key, "-o", &ds, &enc]), &ds));
        }
    }
    if std::env::var_os("LOCKBOX_BENCH_ROUNDS").is_some() {
        for (name, t) in
            ["copy", "put", "get", "age -e", "age -d", "age -e + sync", "age -d + sync"].iter().zip(&t)
        {
            eprintln!("{name}: {:?}", t.iter().map(|d| d.as_millis()).collect::<Vec<_>>());
        }
    }
    let best = |t: &Vec<Duration>| (t.len() == ROUNDS).then(|| *t.iter().min().unwrap());
    let (copy, put, get) = (best(&t[0]), best(&t[1]).unwrap(), best(&t[2]).unwrap());
    let (age_enc, age_dec, age_enc_sync, age_dec_sync) = (best(&t[3]), best(&t[4]), best(&t[5]), best(&t[6]));
    let mbs = |d: Duration| rate(bytes as f64 / 1e6, d);
    for (what, ours, theirs, how, target) in [
        ("put", put, copy, "cat + sync", ">= 0.8"),
        ("get", get, copy, "cat + sync", ">= 0.8"),
        ("put (durable baseline)", put, age_enc_sync, "age + fsync", ">= 1.5"),
        ("get (durable baseline)", get, age_dec_sync, "age + fsync", ">= 1.5"),
        ("put", put, age_enc, "age, not durable", "-"),
        ("get", get, age_dec, "age, not durable", "-"),
    ] {
        let baseline =
            theirs.map_or(format!("{how}: not available"), |t| format!("{how} {:.0} MB/s", mbs(t)));
        rows.push(Row {
            what: format!("{what} {mb} MiB file, file to file"),
            ours: format!("{:.0} MB/s", mbs(ours)),
            baseline,
            ratio: theirs.map_or(f64::NAN, |t| t.as_secs_f64() / ours.as_secs_f64()),
            target,
        });
    }
    fs::remove_dir_all(&dir).unwrap();
}

fn small_items(rows: &mut Vec<Row>, tmp: &Path) -> (PathBuf, usize) {
    let n = env_num("LOCKBOX_BENCH_ITEMS", 100_000) as usize;
    let dir = tmp.join("small");
    let src = dir.join("src");
    for i in 0..n {
        let sub = src.join(format!("d{:03}", i % 100));
        if i < 100 {
            fs::create_dir_all(&sub).unwrap();
        }
        let data: Vec<u8> = (0..1024u32).map(|j| (j as usize ^ i) as u8).collect();
        fs::write(sub.join(format!("f{i:06}")), data).unwrap();
    }
    // Best of ROUNDS here too: file creation and redb's commits on this disk vary run to run.
    // Each round imports into a vault of its own; the first is kept for the grant rows.
    let (mut import, mut export) = (Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        let home = if round == 0 { dir.clone() } else { dir.join(format!("round{round}")) };
        fs::create_dir_all(&home).unwrap();
        let (vault, _, vault_dir) = setup(&home, &["internal", "secret"]);
        drop(vault);
        let keyring = home.join("keyring").to_string_lossy().into_owned();
        let src = src.to_string_lossy();
        import = import.min(lockbox(&vault_dir, &["import", "acme", "--level", "internal", &src]));
        let out = home.join("out").to_string_lossy().into_owned();
        export = export.min(lockbox(&vault_dir, &["export", "acme", &out, "--keyring", &keyring]));
    }

    // The ceiling: the same plaintext straight into redb, one transaction, durable commit.
    let values: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| (format!("d{:03}/f{i:06}", i % 100), (0..1024u32).map(|j| (j as usize ^ i) as u8).collect()))
        .collect();
    let table: TableDefinition<&str, &[u8]> = TableDefinition::new("raw");
    let files_table: TableDefinition<&str, &[u8]> = TableDefinition::new("files");
    let (mut raw_insert, mut raw_read) = (Duration::MAX, Duration::MAX);
    let (mut raw_files_in, mut raw_files_out) = (Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        let db = redb::Database::create(dir.join(format!("raw{round}.redb"))).unwrap();
        settle();
        let started = Instant::now();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(table).unwrap();
            for (k, v) in &values {
                t.insert(k.as_str(), v.as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
        raw_insert = raw_insert.min(started.elapsed());
        let started = Instant::now();
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(table).unwrap();
        let mut total = 0usize;
        for (k, _) in &values {
            total += t.get(k.as_str()).unwrap().unwrap().value().len();
        }
        raw_read = raw_read.min(started.elapsed());
        assert_eq!(total, n * 1024);
        drop((t, tx));
        // A second ceiling that does the same file work as import and export: read every file
        // and insert it, and write every value out as a file.
        settle();
        let started = Instant::now();
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table(files_table).unwrap();
            for (k, _) in &values {
                t.insert(k.as_str(), fs::read(src.join(k)).unwrap().as_slice()).unwrap();
            }
        }
        tx.commit().unwrap();
        raw_files_in = raw_files_in.min(started.elapsed());
        // And the export baseline: read every value out of redb and write it as a plain file.
        settle();
        let started = Instant::now();
        let out = dir.join(format!("raw-out{round}"));
        let tx = db.begin_read().unwrap();
        let t = tx.open_table(table).unwrap();
        for (i, (k, _)) in values.iter().enumerate() {
            if i < 100 {
                fs::create_dir_all(out.join(format!("d{i:03}"))).unwrap();
            }
            fs::write(out.join(k), t.get(k.as_str()).unwrap().unwrap().value()).unwrap();
        }
        raw_files_out = raw_files_out.min(started.elapsed());
    }
    let items = |d: Duration| rate(n as f64, d);
    for (what, ours, base, base_name) in [
        ("import", import, raw_insert, "raw redb insert"),
        ("export", export, raw_read, "raw redb get"),
        ("import (file-bound ceiling)", import, raw_files_in, "read file + raw insert"),
        ("export (as files)", export, raw_files_out, "raw redb get + write file"),
    ] {
        rows.push(Row {
            what: format!("{what}, {n} x 1 KiB"),
            ours: format!("{:.0} items/s", items(ours)),
            baseline: format!("{base_name} {:.0} items/s", items(base)),
            ratio: base.as_secs_f64() / ours.as_secs_f64(),
            target: if what.contains("ceiling") || what == "export" { "(context)" } else { ">= 0.5" },
        });
    }
    (dir, n)
}

fn approve_time(vault: &Vault, keyring: &mut Keyring, engineer: &str) -> Duration {
    let levels = vec!["internal".to_string()];
    let req = NewRequest {
        tenant: "acme",
        engineer,
        levels: &levels,
        reason: "bench",
        case_id: "b",
        duration_secs: Some(60),
    };
    let id = id_hex(&lockbox::lockbox::Workflow::new(vault).create_request(&req).unwrap().id);
    let confirmed = lockbox::customer::Confirmation::EngineersDigest(
        lockbox::customer::shown_digest(vault, &id).unwrap(),
    );
    let started = Instant::now();
    lockbox::customer::approve_request(vault, keyring, &id, None, None, confirmed).unwrap();
    started.elapsed()
}

fn grants_and_rotation(rows: &mut Vec<Row>, tmp: &Path, big: &Path, n: usize) {
    // 1,000 items
    let small = tmp.join("grant-small");
    fs::create_dir_all(&small).unwrap();
    let (mut vault, mut keyring, _) = setup(&small, &["internal", "secret"]);
    vault.set_actor("alice");
    for i in 0..1000 {
        let opts = lockbox::vault::PutOptions::default();
        vault
            .put("acme", &format!("i{i}"), "internal", &mut std::io::Cursor::new(vec![1u8; 1024]), opts)
            .unwrap();
    }
    lockbox::lockbox::Workflow::new(&vault)
        .enroll_engineer("eve", &small.join("eve.id"), &Passphrase::new(PASS.into()), KDF)
        .unwrap();
    let few = (0..5).map(|_| approve_time(&vault, &mut keyring, "eve")).min().unwrap();
    // all the imported items
    let mut vault = Vault::open(&big.join("vault")).unwrap();
    vault.set_actor("alice");
    let mut keyring = Keyring::open(&big.join("keyring"), &Passphrase::new(PASS.into())).unwrap();
    lockbox::lockbox::Workflow::new(&vault)
        .enroll_engineer("eve", &big.join("eve.id"), &Passphrase::new(PASS.into()), KDF)
        .unwrap();
    let many = (0..5).map(|_| approve_time(&vault, &mut keyring, "eve")).min().unwrap();
    rows.push(Row {
        what: format!("approve a grant, tenant of {n} items"),
        ours: format!("{:.1} ms", many.as_secs_f64() * 1e3),
        baseline: format!("1,000 items: {:.1} ms", few.as_secs_f64() * 1e3),
        ratio: few.as_secs_f64() / many.as_secs_f64(),
        target: "~1 (flat)",
    });
    let started = Instant::now();
    let r = lockbox::customer::rotate_level(&vault, &mut keyring, "acme", "internal", true).unwrap();
    let took = started.elapsed();
    assert_eq!(r.rewrapped as usize, n);
    rows.push(Row {
        what: format!("level rotate --rewrap, {n} items"),
        ours: format!("{:.0} items/s", rate(n as f64, took)),
        baseline: "-".into(),
        ratio: f64::NAN,
        target: "(report)",
    });
}

fn peak_memory(rows: &mut Vec<Row>, tmp: &Path) {
    let mb = env_num("LOCKBOX_BENCH_BIG_MB", 1024);
    let dir = tmp.join("memory");
    fs::create_dir_all(&dir).unwrap();
    let (vault, _, vault_dir) = setup(&dir, &["secret"]);
    drop(vault);
    let input = dir.join("input");
    random_file(&input, mb << 20);
    let keyring = dir.join("keyring").to_string_lossy().into_owned();
    let put = peak_kib(
        &vault_dir,
        &["put", "acme", "big", "--level", "secret", "--file", &input.to_string_lossy()],
    );
    let out = dir.join("out").to_string_lossy().into_owned();
    let get_args = ["get", "acme", "big", "--keyring", &keyring, "--out", &out, "--replace"];
    let get = peak_kib(&vault_dir, &get_args);
    // The same with the other core busy, so the writer falls behind the reader if it can.
    let busy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let spinner = {
        let busy = busy.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while busy.load(std::sync::atomic::Ordering::Relaxed) {
                n = std::hint::black_box(n.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        })
    };
    let get_loaded = peak_kib(&vault_dir, &get_args);
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    spinner.join().unwrap();
    // What a keyring at the CLI's default cost (Argon2id, 64 MiB) takes to open, alone: the
    // bench's keyrings use 8 MiB so that the rows above show the item pipeline.
    let ring = dir.join("default.keyring");
    let pass = Passphrase::new(PASS.into());
    let mut default_ring = Keyring::create(&ring, &pass, lockbox::keyring::DEFAULT_KDF).unwrap();
    let vault = Vault::open(&vault_dir).unwrap();
    lockbox::customer::create_tenant(&vault, &mut default_ring, "small", &["secret".to_string()]).unwrap();
    let opts = lockbox::vault::PutOptions::default();
    vault.put("small", "one", "secret", &mut std::io::Cursor::new(vec![1u8; 1024]), opts).unwrap();
    drop(vault);
    let ring = ring.to_string_lossy().into_owned();
    let get_default =
        peak_kib(&vault_dir, &["get", "small", "one", "--keyring", &ring, "--out", &out, "--replace"]);
    // And the large item read with that keyring: nothing should come on top of Argon2's block,
    // which is returned before the item's buffers are filled.
    let mut default_ring = Keyring::open(Path::new(&ring), &pass).unwrap();
    let vault = Vault::open(&vault_dir).unwrap();
    lockbox::customer::create_tenant(&vault, &mut default_ring, "large", &["secret".to_string()]).unwrap();
    vault.put("large", "big", "secret", &mut fs::File::open(&input).unwrap(), opts).unwrap();
    drop(vault);
    let get_default_big =
        peak_kib(&vault_dir, &["get", "large", "big", "--keyring", &ring, "--out", &out, "--replace"]);
    for (what, kib) in [
        (format!("put of a {mb} MiB item"), put),
        (format!("get of a {mb} MiB item"), get),
        (format!("get of a {mb} MiB item, other core busy"), get_loaded),
        ("get of 1 KiB, keyring at the default cost (Argon2id 64 MiB)".to_string(), get_default),
        (format!("get of a {mb} MiB item, keyring at the default cost"), get_default_big),
    ] {
        rows.push(Row {
            what: format!("peak memory, {what}"),
            ours: kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            baseline: "limit 64 MiB".into(),
            ratio: kib.map_or(f64::NAN, |k| 64.0 * 1024.0 / k as f64),
            target: ">= 1",
        });
    }
    fs::remove_dir_all(&dir).unwrap();
}

fn main() {
    // `cargo bench` passes --bench; anything else (e.g. a test filter) runs nothing.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let tmp = tempfile::Builder::new()
        .prefix("lockbox-bench")
        .tempdir_in(
            std::env::var("LOCKBOX_BENCH_DIR")
                .unwrap_or_else(|_| std::env::temp_dir().to_string_lossy().into_owned()),
        )
        .unwrap();
    // LOCKBOX_BENCH_ONLY=large,items,memory runs a subset (items include grants and rotation).
    let only = std::env::var("LOCKBOX_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    let mut rows = Vec::new();
    if wanted("large") {
        large_file(&mut rows, tmp.path());
    }
    if wanted("items") {
        let (small, n) = small_items(&mut rows, tmp.path());
        grants_and_rotation(&mut rows, tmp.path(), &small, n);
    }
    if wanted("memory") {
        peak_memory(&mut rows, tmp.path());
    }
    println!("\n| measurement | lockbox | baseline (same run) | ratio | target |");
    println!("|---|---|---|---|---|");
    for r in rows {
        let ratio = if r.ratio.is_nan() { "-".into() } else { format!("{:.2}", r.ratio) };
        println!("| {} | {} | {} | {} | {} |", r.what, r.ours, r.baseline, ratio, r.target);
    }
}
