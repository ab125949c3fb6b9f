//! The lockbox workflow from the command line: ids on stdout, exit codes, JSON, audit verify.

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env { dir: tempfile::tempdir().unwrap() };
        env.ok(&["init"], b"");
        env.ok(
            &["tenant", "create", "acme", "--levels", "public,internal,secret", "--keyring", &env.path("k")],
            b"",
        );
        env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
        env.ok(&["put", "acme", "i1", "--level", "internal"], b"internal data");
        env.ok(&["put", "acme", "s1", "--level", "secret"], b"secret data");
        env
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(args)
            .env("LOCKBOX_VAULT", self.dir.path().join("vault"))
            .env("LOCKBOX_TRUST", self.dir.path().join("trust"))
            .env("LOCKBOX_PASSPHRASE", "a passphrase of some length")
            .env("LOCKBOX_ACTOR", "alice")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &[u8]) -> String {
        let out = self.run(args, stdin);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args, b"");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        stderr
    }
}

#[test]
fn request_approve_read_revoke_from_the_command_line() {
    let env = Env::new();
    let id = env.path("eve.id");
    let req = env.ok(
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "--identity",
            &id,
            "--levels",
            "internal,secret",
            "--reason",
            "disk full",
            "--case",
            "CS-7",
            "--duration",
            "30m",
        ],
        b"",
    );
    let (req, digest) = id_and_digest(&req);
    let (req, digest) = (req.as_str(), digest.as_str());
    let shown = env.ok(&["request", "show", &req[..8]], b"");
    assert!(
        shown.contains("pending") && shown.contains("CS-7") && shown.contains("duration  30m"),
        "{shown}"
    );
    env.fails(&approve(req, digest, &["--levels", "public", "--keyring", &env.path("k")]), 2);
    env.fails(&approve(req, digest, &["--duration", "1h", "--keyring", &env.path("k")]), 2);
    let grant = env.ok(
        &approve(req, digest, &["--levels", "internal", "--duration", "10m", "--keyring", &env.path("k")]),
        b"",
    );
    let grant = grant.trim();
    assert_eq!(grant.len(), 32, "only the grant id is printed: {grant:?}");
    env.fails(&approve(req, digest, &["--keyring", &env.path("k")]), 6);
    env.fails(&["request", "deny", req], 6);

    assert_eq!(env.ok(&["get", "acme", "i1", "--identity", &id], b""), "internal data");
    let e = env.fails(&["get", "acme", "s1", "--identity", &id], 4);
    assert!(e.contains("not released") && e.contains("internal"), "{e}");
    env.ok(&["put", "acme", "i2", "--level", "internal"], b"later");
    let e = env.fails(&["get", "acme", "i2", "--identity", &id], 4);
    assert!(e.contains("after grant"), "{e}");

    let grants: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "grant", "list", "--engineer", "eve"], b"")).unwrap();
    assert_eq!(grants[0]["id"], grant);
    assert_eq!(grants[0]["status"], "active");
    env.ok(&["grant", "revoke", grant], b"");
    env.fails(&["grant", "revoke", grant], 6);
    assert!(env.fails(&["get", "acme", "i1", "--identity", &id], 4).contains("revoked"));
    let listed = env.ok(&["request", "list", "--status", "revoked"], b"");
    assert!(listed.contains(req), "{listed}");

    let verify = env.ok(&["audit", "verify"], b"");
    assert!(verify.contains("intact"), "{verify}");
    let head = verify.split_whitespace().last().unwrap().to_string();
    env.ok(&["audit", "verify", "--expect-head", &head], b"");
    env.fails(&["audit", "verify", "--expect-head", &"ab".repeat(32)], 5);
    env.fails(&["audit", "verify", "--expect-head", "xyz"], 2);
    let log = env.ok(&["audit", "show", "--tenant", "acme"], b"");
    for action in ["request.create", "request.approve", "get.denied", "grant.revoke"] {
        assert!(log.contains(action), "{action} missing from\n{log}");
    }
}

#[test]
fn workflow_refusals_have_distinct_codes() {
    let env = Env::new();
    env.fails(&["request", "show", "00112233445566778899aabbccddeeff"], 3);
    env.fails(&["request", "show", "nothex"], 2);
    env.fails(&["grant", "revoke", "00112233445566778899aabbccddeeff"], 3);
    let create = |engineer: &str, levels: &str, duration: &str| {
        let identity = env.path(&format!("{engineer}.id"));
        vec![
            "request",
            "create",
            "--tenant",
            "acme",
            "--identity",
            &identity,
            "--levels",
            levels,
            "--reason",
            "r",
            "--case",
            "c",
            "--duration",
            duration,
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>()
    };
    let args = create("mallory", "internal", "1h");
    env.fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), 3);
    let args = create("eve", "nosuch", "1h");
    env.fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), 3);
    let args = create("eve", "internal", "5h");
    let e = env.fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), 2);
    assert!(e.contains("tenant policy"), "{e}");
    let args = create("eve", "internal", "0s");
    env.fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), 2);
    env.fails(&["engineer", "enroll", "eve", "--identity", &env.path("eve2.id")], 6);
    env.fails(&["get", "acme", "i1", "--identity", &env.path("k")], 2);
    env.fails(&["get", "acme", "i1", "--identity", &env.path("eve.id")], 4);
    let policy = env.ok(
        &[
            "tenant",
            "policy",
            "acme",
            "--max-access",
            "8h",
            "--request-ttl",
            "2d",
            "--keyring",
            &env.path("k"),
        ],
        b"",
    );
    assert!(policy.contains("at most 8h;") && policy.contains("at most 2days"), "{policy}");
    let rotated =
        env.ok(&["level", "rotate", "acme", "internal", "--keyring", &env.path("k"), "--rewrap"], b"");
    assert!(rotated.contains("epoch 2") && rotated.contains("1 item(s) re-wrapped"), "{rotated}");
    assert_eq!(env.ok(&["get", "acme", "i1", "--keyring", &env.path("k")], b""), "internal data");
}

/// The request id and digest `request create` prints, one per line.
fn id_and_digest(out: &str) -> (String, String) {
    let mut lines = out.lines();
    let id = lines.next().unwrap_or_default().to_owned();
    let digest = lines.next().and_then(|l| l.strip_prefix("digest ")).unwrap_or_default().to_owned();
    assert_eq!((id.len(), digest.len(), lines.next()), (32, 64, None), "the id, then the digest: {out:?}");
    (id, digest)
}

fn approve<'a>(req: &'a str, digest: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["request", "approve", req, "--expect", digest];
    args.extend_from_slice(extra);
    args
}
