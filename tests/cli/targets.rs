//! What the command line does to the things people point it at: devices, FIFOs, symbolic
//! links, closed pipes, and a vault that other processes read and write at the same time.

use std::io::{Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASS: &str = "correct horse battery staple";

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A vault with tenant acme (levels public, secret) and one item `a` ("text").
    fn new() -> Env {
        let env = Env { dir: tempfile::tempdir().unwrap() };
        env.ok(&["init"]);
        env.ok(&[
            "tenant",
            "create",
            "acme",
            "--levels",
            "public,secret",
            "--keyring",
            &env.path("acme.keyring"),
        ]);
        env.put("a", b"text");
        env
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockbox"));
        cmd.args(args)
            .env("LOCKBOX_VAULT", self.dir.path().join("vault"))
            .env("LOCKBOX_TRUST", self.dir.path().join("trust"))
            .env("LOCKBOX_PASSPHRASE", PASS)
            .env_remove("LOCKBOX_ACTOR")
            .env_remove("LOCKBOX_WAIT")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    fn put(&self, id: &str, data: &[u8]) {
        let mut child = self
            .cmd(&["put", "acme", id, "--level", "secret"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(data).unwrap();
        assert!(child.wait().unwrap().success());
    }

    fn get_args<'a>(&'a self, keyring: &'a str, out: &'a str) -> Vec<&'a str> {
        vec!["get", "acme", "a", "--keyring", keyring, "--out", out]
    }

    fn mkfifo(&self, name: &str) -> String {
        let path = self.path(name);
        assert!(Command::new("mkfifo").arg(&path).status().unwrap().success());
        path
    }
}

/// Reads a FIFO to its end on a thread of its own (opening it blocks until a writer comes).
fn read_fifo(path: &str) -> std::thread::JoinHandle<Vec<u8>> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut data = Vec::new();
        std::fs::File::open(path).unwrap().read_to_end(&mut data).unwrap();
        data
    })
}

#[test]
fn get_out_writes_into_a_fifo_and_leaves_it_a_fifo() {
    let env = Env::new();
    let fifo = env.mkfifo("pipe");
    let reader = read_fifo(&fifo);
    let keyring = env.path("acme.keyring");
    env.ok(&env.get_args(&keyring, &fifo));
    // Checked before joining: a replaced FIFO would leave the reader waiting for ever.
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    assert_eq!(reader.join().unwrap(), b"text");
}

#[test]
fn get_out_dev_null_leaves_the_device_alone() {
    let env = Env::new();
    let keyring = env.path("acme.keyring");
    env.ok(&env.get_args(&keyring, "/dev/null"));
    let meta = std::fs::symlink_metadata("/dev/null").unwrap();
    assert!(meta.file_type().is_char_device(), "/dev/null is no longer a character device");
    // /dev/stdout when standard output is a pipe: the data comes through the pipe.
    let out = env.ok(&env.get_args(&keyring, "/dev/stdout"));
    assert_eq!(out, b"text");
}

#[test]
fn get_out_follows_a_symlink_and_keeps_it() {
    let env = Env::new();
    std::fs::write(env.path("target"), b"old").unwrap();
    std::os::unix::fs::symlink(env.path("target"), env.path("link")).unwrap();
    let keyring = env.path("acme.keyring");
    // The file it points to exists: replaced only with --replace.
    let out = env.run(&env.get_args(&keyring, &env.path("link")));
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--replace"));
    assert_eq!(std::fs::read(env.path("target")).unwrap(), b"old");
    let link = env.path("link");
    let mut args = env.get_args(&keyring, &link);
    args.push("--replace");
    env.ok(&args);
    assert!(std::fs::symlink_metadata(env.path("link")).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read(env.path("target")).unwrap(), b"text");
    // A dangling link: the file it names is created.
    std::os::unix::fs::symlink(env.path("new"), env.path("dangling")).unwrap();
    env.ok(&env.get_args(&keyring, &env.path("dangling")));
    assert_eq!(std::fs::read(env.path("new")).unwrap(), b"text");
}

#[test]
fn backup_streams_into_a_fifo_and_through_a_symlink() {
    let env = Env::new();
    let fifo = env.mkfifo("backup.pipe");
    let reader = read_fifo(&fifo);
    env.ok(&["backup", &fifo]);
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    let streamed = reader.join().unwrap();
    std::fs::write(env.path("b.target"), b"").unwrap();
    std::os::unix::fs::symlink(env.path("b.target"), env.path("b.link")).unwrap();
    let out = env.run(&["backup", &env.path("b.link")]);
    assert_eq!(out.status.code(), Some(6), "an existing backup file was replaced without --replace");
    assert_eq!(std::fs::read(env.path("b.target")).unwrap(), b"");
    env.ok(&["backup", &env.path("b.link"), "--replace"]);
    assert!(std::fs::symlink_metadata(env.path("b.link")).unwrap().file_type().is_symlink());
    // Both are whole backups a restore accepts.
    std::fs::write(env.path("streamed.bak"), &streamed).unwrap();
    for (file, vault) in [("streamed.bak", "r1"), ("b.target", "r2")] {
        let out = env.cmd(&["restore", &env.path(file), "--vault", &env.path(vault)]).output().unwrap();
        assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_keyring_behind_a_symlink_stays_a_symlink_and_key_files_refuse_devices() {
    let env = Env::new();
    std::fs::rename(env.path("acme.keyring"), env.path("real.keyring")).unwrap();
    std::os::unix::fs::symlink(env.path("real.keyring"), env.path("acme.keyring")).unwrap();
    env.ok(&["level", "add", "acme", "internal", "--keyring", &env.path("acme.keyring")]);
    assert!(std::fs::symlink_metadata(env.path("acme.keyring")).unwrap().file_type().is_symlink());
    env.ok(&["level", "rotate", "acme", "internal", "--keyring", &env.path("acme.keyring")]);
    assert!(std::fs::symlink_metadata(env.path("acme.keyring")).unwrap().file_type().is_symlink());
    // A FIFO is no place for a keyring: refused, and it stays a FIFO.
    let fifo = env.mkfifo("k.pipe");
    let out = env.run(&["engineer", "enroll", "eve", "--identity", &fifo]);
    assert!(!out.status.success());
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn export_never_replaces_or_writes_through_links() {
    let env = Env::new();
    env.put("dir/b", b"bee");
    env.put("dir/sub/c", b"sea"); // would need a directory made inside the link's target
    let out = env.path("out");
    std::fs::create_dir_all(Path::new(&out)).unwrap();
    std::fs::write(env.path("victim"), b"keep").unwrap();
    std::os::unix::fs::symlink(env.path("victim"), Path::new(&out).join("a")).unwrap();
    std::fs::create_dir(env.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(env.path("elsewhere"), Path::new(&out).join("dir")).unwrap();
    let run = env.run(&["export", "acme", &out, "--keyring", &env.path("acme.keyring"), "--replace"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("not a regular file") && stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read(env.path("victim")).unwrap(), b"keep");
    assert!(std::fs::symlink_metadata(Path::new(&out).join("a")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_dir(env.path("elsewhere")).unwrap().next().is_none(), "wrote through a link");
}

#[test]
fn a_closed_output_pipe_ends_quietly() {
    let env = Env::new();
    for args in [&["tenant", "list"][..], &["list", "acme"], &["audit", "show"], &["demo"]] {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = env
            .cmd(args)
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {stderr}");
        assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
        assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none(), "{args:?} left files in TMPDIR");
    }
}

/// A put still reading its standard input (more than one staged group already stored): it has
/// the vault open for writing, as a slow pipe or a paused producer would keep it.
fn streaming_put(env: &Env, id: &str, first: &[u8]) -> (Child, std::process::ChildStdin) {
    let mut child = env
        .cmd(&["put", "acme", id, "--level", "secret"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(first).unwrap();
    (child, stdin)
}

/// Bytes that do not repeat in any short period (so a mixed-up chunk shows).
fn pattern(len: usize, salt: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_add(salt).wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap()
}

/// Waits until the vault shows a put staging (its first group is stored), so that what the
/// test does next really happens during the put.
fn until_staging(env: &Env) {
    let started = Instant::now();
    while json(&env.ok(&["verify", "--json"]))["staging"] != 1 {
        assert!(started.elapsed() < Duration::from_secs(30), "the put never staged a group");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn readers_and_writers_go_on_while_a_put_streams() {
    let env = Env::new();
    let first = pattern(lockbox::store::STAGE_BYTES + 3_000_000, 1);
    let (writer, mut stdin) = streaming_put(&env, "slow", &first);
    until_staging(&env);
    let started = Instant::now();
    for args in [&["list", "acme"][..], &["tenant", "list"], &["audit", "show"], &["audit", "verify"]] {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(env.ok(&["get", "acme", "a", "--keyring", &env.path("acme.keyring")]), b"text");
    env.put("meanwhile", b"written while the other put streams");
    assert!(started.elapsed() < Duration::from_secs(20), "someone waited for the streaming put");
    // The streaming put's chunks are its own, not orphans; it is not listed before it is done.
    let report = json(&env.ok(&["verify", "--json"]));
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    assert!(!String::from_utf8_lossy(&env.ok(&["list", "acme"])).contains("slow"));

    stdin.write_all(b"the end").unwrap();
    drop(stdin);
    let out = writer.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut whole = first;
    whole.extend_from_slice(b"the end");
    assert!(env.ok(&["get", "acme", "slow", "--keyring", &env.path("acme.keyring")]) == whole);
    let report = json(&env.ok(&["verify", "--json"]));
    assert_eq!((report["staging"].clone(), report["problems"].clone()), (0.into(), serde_json::json!([])));
    assert!(std::fs::read_dir(env.dir.path().join("vault/vault.redb.staging")).unwrap().next().is_none());
}

#[test]
fn four_writers_at_once_all_commit() {
    let env = Env::new();
    for round in 0..3 {
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let id = format!("r{round}w{w}");
                let data = pattern(if w == 0 { 9_000_000 } else { 50_000 * (w + 1) }, w as u32);
                let (child, mut stdin) = streaming_put(&env, &id, &[]);
                let feeder = std::thread::spawn(move || stdin.write_all(&data).map(|_| data));
                (id, child, feeder)
            })
            .collect();
        for (id, child, feeder) in writers {
            let data = feeder.join().unwrap().unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{id}: exit {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(env.ok(&["get", "acme", &id, "--keyring", &env.path("acme.keyring")]) == data, "{id}");
        }
    }
    // One linear log: every put in it once, and it verifies.
    env.ok(&["audit", "verify"]);
    let log = String::from_utf8(env.ok(&["audit", "show", "--tenant", "acme"])).unwrap();
    for round in 0..3 {
        for w in 0..4 {
            let id = format!("r{round}w{w}");
            let puts = log.lines().filter(|l| l.split_whitespace().any(|f| f == id) && l.contains(" put "));
            assert_eq!(puts.count(), 1, "{id}: {log}");
        }
    }
}

#[test]
fn a_reader_stalled_on_a_pipe_holds_no_one_up() {
    let env = Env::new();
    let big = pattern(6_000_000, 7);
    env.put("big", &big);
    // Nobody reads this get's output: it blocks once the pipe is full, midway through.
    let mut reader = env
        .cmd(&["get", "acme", "big", "--keyring", &env.path("acme.keyring")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(reader.try_wait().unwrap().is_none(), "the get should be stuck on its pipe");
    let keyring = env.path("acme.keyring");
    for args in [
        &["rm", "acme", "a"][..],
        &["level", "rotate", "acme", "public", "--keyring", &keyring],
        &["list", "acme"],
    ] {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    env.put("after", b"x");
    let mut got = Vec::new();
    reader.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    assert!(reader.wait().unwrap().success());
    assert!(got == big, "the stalled reader read its snapshot whole");
}

#[test]
fn a_put_killed_mid_stream_is_swept_at_the_next_open() {
    let env = Env::new();
    let (mut writer, stdin) =
        streaming_put(&env, "doomed", &pattern(2 * lockbox::store::STAGE_BYTES + 1000, 3));
    until_staging(&env);
    writer.kill().unwrap();
    writer.wait().unwrap();
    drop(stdin);
    // The next process to open the vault for writing finds no live put holding the chunks.
    env.ok(&["list", "acme"]);
    let report = json(&env.ok(&["verify", "--json"]));
    assert_eq!((report["staging"].clone(), report["problems"].clone()), (0.into(), serde_json::json!([])));
    let db = env.dir.path().join("vault").join(lockbox::vault::DB_FILE);
    let store = lockbox::store::RedbStore::open(&db).unwrap();
    let read = lockbox::store::Store::begin_read(&store).unwrap();
    let item = read.item("acme", "a").unwrap().unwrap();
    read.for_each_chunk(&mut |chunk| {
        assert_eq!(chunk.unwrap().0, item.blob, "only item a's chunks are left");
        Ok(true)
    })
    .unwrap();
}

#[test]
fn compaction_holds_the_vault_alone_and_wait_retries() {
    let env = Env::new();
    let db = env.dir.path().join("vault").join(lockbox::vault::DB_FILE);
    let alone = lockbox::store::RedbStore::open_alone(&db).unwrap();
    let out = env.run(&["list", "acme"]);
    assert_eq!(out.status.code(), Some(7));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alone") && stderr.contains("--wait"), "{stderr}");

    let waiter = env.cmd(&["--wait", "20s", "list", "acme"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(alone);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("a "));

    // A deadline that passes: exit 7 after about that long, from the environment variable too.
    let _alone = lockbox::store::RedbStore::open_alone(&db).unwrap();
    let started = Instant::now();
    let out = env.cmd(&["list", "acme"]).env("LOCKBOX_WAIT", "1s").output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(started.elapsed() >= Duration::from_millis(900), "gave up before the deadline");
}

#[test]
fn a_passphrase_prompt_does_not_hold_the_vault() {
    let env = Env::new();
    // The passphrase comes from a FIFO nobody writes yet: the get is stuck "at the prompt".
    let fifo = env.mkfifo("pass.pipe");
    let mut stuck =
        env.cmd(&["get", "acme", "a", "--passphrase-file", &fifo, "--keyring", &env.path("acme.keyring")]);
    stuck.env_remove("LOCKBOX_PASSPHRASE").stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = stuck.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    for args in [&["list", "acme"][..], &["tenant", "list"]] {
        let out = env.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(format!("{PASS}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.stdout, b"text");
}

#[test]
fn approving_an_unknown_request_fails_before_asking_for_a_passphrase() {
    let env = Env::new();
    // No passphrase anywhere and no terminal: had it prompted, it would fail with exit 2.
    let mut cmd = env.cmd(&[
        "request",
        "approve",
        "0123456789abcdef0123456789abcdef",
        "--keyring",
        &env.path("acme.keyring"),
    ]);
    cmd.env_remove("LOCKBOX_PASSPHRASE");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn rotations_at_once_all_keep_their_keys() {
    let env = Env::new();
    let keyring = env.path("acme.keyring");
    for _ in 0..3 {
        // All read the keyring, then change it: the keyring's lock puts one after the other,
        // and each reads the keys of those before it before it adds its own.
        let rotate = |level: &str| {
            env.cmd(&["level", "rotate", "acme", level, "--keyring", &keyring])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let all: Vec<_> = ["public", "secret", "public", "secret"].map(rotate).into();
        for child in all {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        // Each rotation's new key is in the keyring: items written at both new epochs read back.
        for level in ["public", "secret"] {
            let id = format!("after-{level}");
            let mut put = env
                .cmd(&["put", "acme", &id, "--level", level, "--replace"])
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            put.stdin.take().unwrap().write_all(b"new").unwrap();
            assert!(put.wait().unwrap().success());
            let out = env.run(&["get", "acme", &id, "--keyring", &keyring]);
            assert!(
                out.status.success(),
                "{level}: a new key was lost: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
