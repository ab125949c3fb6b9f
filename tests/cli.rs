//! The `lockbox` command line: exit codes, messages, stdin/stdout, many processes on one vault,
//! and a real `lockbox serve` with clients that share nothing with it.

// One binary for the command line, a module per area (each test binary links the whole
// crate again).
#[path = "kit/mod.rs"]
mod kit;

#[path = "cli/habits.rs"]
mod habits;
#[path = "cli/names.rs"]
mod names;
#[path = "cli/postgres.rs"]
mod postgres;
#[path = "cli/removal.rs"]
mod removal;
#[path = "cli/server.rs"]
mod server;
#[path = "cli/snapshots.rs"]
mod snapshots;
#[path = "cli/targets.rs"]
mod targets;
#[path = "cli/traps.rs"]
mod traps;
#[path = "cli/trust.rs"]
mod trust;
#[path = "cli/workflow.rs"]
mod workflow;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A fresh vault with tenants acme and globex, each with its own keyring.
    fn new() -> Env {
        let env = Env { dir: tempfile::tempdir().unwrap() };
        env.ok(&["init"], b"");
        env.ok(
            &[
                "tenant",
                "create",
                "acme",
                "--levels",
                "public,internal,secret",
                "--keyring",
                &env.path("acme.keyring"),
            ],
            b"",
        );
        env.ok(
            &[
                "tenant",
                "create",
                "globex",
                "--levels",
                "public,secret",
                "--keyring",
                &env.path("globex.keyring"),
            ],
            b"",
        );
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
            .env("LOCKBOX_PASSPHRASE", "correct horse battery staple")
            .env_remove("LOCKBOX_ACTOR");
        cmd
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        run(self.cmd(args), stdin)
    }

    fn ok(&self, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Runs and checks the exit code; returns stderr.
    fn fails(&self, args: &[&str], stdin: &[u8], code: i32) -> String {
        let out = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }
}

fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

#[test]
fn put_and_get_round_trip_through_pipes_and_files() {
    let env = Env::new();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let stored = env.ok(&["put", "acme", "reports/q3.bin", "--level", "secret"], &data);
    assert!(String::from_utf8_lossy(&stored).contains("195 KiB"));
    assert_eq!(env.ok(&["get", "acme", "reports/q3.bin", "--keyring", &env.path("acme.keyring")], b""), data);

    std::fs::write(env.path("in.txt"), b"from a file").unwrap();
    env.ok(&["put", "acme", "f", "--level", "public", "--file", &env.path("in.txt")], b"");
    env.ok(&["get", "acme", "f", "--keyring", &env.path("acme.keyring"), "--out", &env.path("out.txt")], b"");
    assert_eq!(std::fs::read(env.path("out.txt")).unwrap(), b"from a file");

    let list = String::from_utf8(env.ok(&["list", "acme"], b"")).unwrap();
    assert!(list.contains("reports/q3.bin") && list.contains("secret") && list.contains("195 KiB"), "{list}");
    let json: serde_json::Value =
        serde_json::from_slice(&env.ok(&["--json", "list", "acme", "--level", "public"], b"")).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["item"], "f");
}

#[test]
fn exit_codes_name_the_problem() {
    let env = Env::new();
    let acme = env.path("acme.keyring");
    env.ok(&["put", "acme", "a", "--level", "secret"], b"original");

    let e = env.fails(&["get", "acme", "a", "--keyring", &env.path("globex.keyring")], b"", 4);
    assert!(e.contains("no key for tenant \"acme\""), "{e}");
    let e = env.fails(&["get", "nobody", "a", "--keyring", &acme], b"", 3);
    assert!(e.contains("no tenant \"nobody\""), "{e}");
    let e = env.fails(&["get", "acme", "zzz", "--keyring", &acme], b"", 3);
    assert!(e.contains("no item \"zzz\""), "{e}");
    let e = env.fails(&["put", "acme", "a", "--level", "secret"], b"clobber", 6);
    assert!(e.contains("--replace"), "{e}");
    assert_eq!(env.ok(&["get", "acme", "a", "--keyring", &acme], b""), b"original");
    env.fails(&["put", "acme", "b", "--level", "nosuch"], b"x", 3);
    env.fails(&["put", "acme", "b"], b"x", 2);
    env.fails(&["put", "ACME", "b", "--level", "secret"], b"x", 2);
    env.fails(&["frobnicate"], b"", 2);
    env.fails(&["init"], b"", 6);
    env.fails(&["tenant", "create", "acme", "--levels", "x", "--keyring", &acme], b"", 6);
    env.fails(&["get", "acme", "a", "--keyring", &env.path("missing.keyring")], b"", 3);
    let e = env.fails(&["put", "acme", "d", "--level", "secret", "--file", &env.path("")], b"", 2);
    assert!(e.contains("is a directory"), "{e}");
    let e = env.fails(&["get", "acme", "a", "--keyring", &acme, "--out", &env.path("")], b"", 2);
    assert!(e.contains("is a directory"), "{e}");
    env.fails(&["get", "acme", "a", "--keyring", &acme, "--out", &env.path("no/such/dir/f")], b"", 3);

    let mut wrong = env.cmd(&["get", "acme", "a", "--keyring", &acme]);
    wrong.env("LOCKBOX_PASSPHRASE", "wrong");
    let out = run(wrong, b"");
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));

    let mut no_vault = env.cmd(&["list", "acme"]);
    no_vault.env("LOCKBOX_VAULT", env.path("elsewhere"));
    assert_eq!(run(no_vault, b"").status.code(), Some(3));
}

#[test]
fn flipped_envelope_bytes_never_yield_plaintext() {
    let env = Env::new();
    let acme = env.path("acme.keyring");
    env.ok(&["put", "acme", "doc", "--level", "internal"], &[42u8; 1000]);
    let envelope = env.ok(&["get", "acme", "doc", "--raw"], b"");
    // A sample across every region of the envelope; the library test flips every byte.
    for pos in [0, 5, 9, 14, 18, 21, 30, 60, 80, 120, 160, 186, 190, envelope.len() - 500, envelope.len() - 1]
    {
        let mut bad = envelope.clone();
        bad[pos] ^= 0x20;
        let put = env.run(&["put", "acme", "doc", "--raw", "--replace"], &bad);
        if put.status.success() {
            env.fails(&["get", "acme", "doc", "--keyring", &acme], b"", 5);
        } else {
            assert_eq!(put.status.code(), Some(5), "pos {pos}: {}", String::from_utf8_lossy(&put.stderr));
        }
    }
    env.ok(&["put", "acme", "doc", "--raw", "--replace"], &envelope);
    assert_eq!(env.ok(&["get", "acme", "doc", "--keyring", &acme], b""), vec![42u8; 1000]);
    let e = env.fails(&["put", "acme", "other", "--raw"], &envelope, 5);
    assert!(e.contains("belongs to tenant \"acme\", item \"doc\""), "{e}");
    env.fails(&["put", "globex", "doc", "--raw"], &envelope, 5);
    env.fails(&["put", "acme", "x", "--raw"], b"not an envelope at all", 5);
}

#[test]
fn a_failed_get_to_a_file_leaves_no_file() {
    let env = Env::new();
    env.ok(&["put", "acme", "a", "--level", "secret"], b"text");
    let listing = || {
        let mut names: Vec<PathBuf> =
            std::fs::read_dir(env.dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        names
    };
    let before = listing();
    env.fails(
        &["get", "acme", "a", "--keyring", &env.path("globex.keyring"), "--out", &env.path("o")],
        b"",
        4,
    );
    assert!(!Path::new(&env.path("o")).exists());
    // Nothing else either: no temp file (whatever its name) is left beside the target.
    assert_eq!(listing(), before);
}

#[test]
fn passphrases_come_from_a_file_or_the_environment_never_an_argument() {
    let env = Env::new();
    env.ok(&["put", "acme", "a", "--level", "secret"], b"text");
    std::fs::write(env.path("pass"), "correct horse battery staple\n").unwrap();
    let mut cmd = env.cmd(&[
        "get",
        "acme",
        "a",
        "--passphrase-file",
        &env.path("pass"),
        "--keyring",
        &env.path("acme.keyring"),
    ]);
    cmd.env_remove("LOCKBOX_PASSPHRASE");
    let out = run(cmd, b"");
    assert_eq!(out.stdout, b"text", "{}", String::from_utf8_lossy(&out.stderr));

    // No terminal to prompt on: setsid detaches from the test runner's terminal, if it has one.
    let mut cmd = Command::new("setsid");
    cmd.arg(env!("CARGO_BIN_EXE_lockbox"))
        .args(["get", "acme", "a", "--keyring", &env.path("acme.keyring")])
        .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
        .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
        .env_remove("LOCKBOX_PASSPHRASE");
    let out = run(cmd, b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOCKBOX_PASSPHRASE"));
    env.fails(&["get", "acme", "a", "--keyring", &env.path("acme.keyring"), "--passphrase", "x"], b"", 2);
}

#[test]
fn json_errors_carry_kind_and_code() {
    let env = Env::new();
    let out = env.run(&["--json", "get", "acme", "nope", "--raw"], b"");
    assert_eq!(out.status.code(), Some(3));
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "not_found");
    assert_eq!(err["error"]["code"], 3);
}
