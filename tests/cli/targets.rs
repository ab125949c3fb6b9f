//! What the command line does to the things people point it at: devices, FIFOs, symbolic
//! links, closed pipes, a vault another process holds.

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

/// A `put` that holds the vault while it reads its standard input: the stdin handle
/// releases it. Waits until the holder really has the vault (a probe gets exit 7).
fn hold_vault(env: &Env) -> (Child, std::process::ChildStdin) {
    for attempt in 1..=10 {
        let mut child = env
            .cmd(&["put", "acme", "slow", "--level", "public", "--replace"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"partial").unwrap();
        std::thread::sleep(Duration::from_millis(100 * attempt));
        if child.try_wait().unwrap().is_none() && env.run(&["list", "acme"]).status.code() == Some(7) {
            return (child, stdin);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("could not get a process to hold the vault");
}

#[test]
fn wait_retries_a_busy_vault_and_exit_7_says_how() {
    let env = Env::new();
    let (mut holder, stdin) = hold_vault(&env);
    let out = env.run(&["list", "acme"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--wait"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let waiter = env.cmd(&["--wait", "20s", "list", "acme"]).stdout(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("slow"));

    // A deadline that passes: exit 7 after about that long, from the environment variable too.
    let (mut holder, stdin) = hold_vault(&env);
    let started = Instant::now();
    let out = env.cmd(&["list", "acme"]).env("LOCKBOX_WAIT", "1s").output().unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert!(started.elapsed() >= Duration::from_millis(900), "gave up before the deadline");
    drop(stdin);
    assert!(holder.wait().unwrap().success());
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
fn two_commands_waiting_with_one_keyring_both_keep_their_keys() {
    let env = Env::new();
    let keyring = env.path("acme.keyring");
    let (mut holder, stdin) = hold_vault(&env);
    // Both read the keyring (the passphrase comes before the vault), then wait for the vault.
    let rotate = |level: &str| {
        env.cmd(&["--wait", "30s", "level", "rotate", "acme", level, "--keyring", &keyring])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (rotate("public"), rotate("secret"));
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    assert!(holder.wait().unwrap().success());
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // Each rotation's new key is in the keyring: items written at both new epochs read back.
    for level in ["public", "secret"] {
        let id = format!("after-{level}");
        let mut put = env.cmd(&["put", "acme", &id, "--level", level]).stdin(Stdio::piped()).spawn().unwrap();
        put.stdin.take().unwrap().write_all(b"new").unwrap();
        assert!(put.wait().unwrap().success());
        let out = env.run(&["get", "acme", &id, "--keyring", &keyring]);
        assert!(
            out.status.success(),
            "{level}: the epoch 2 key was lost: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
