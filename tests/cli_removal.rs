//! engineer remove and tenant delete: what the removed party could still use is closed, and the
//! audit trail stays.

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// Tenants acme (internal, secret) and globex; engineer eve with an active grant to acme's
    /// internal level and a pending request for secret.
    fn new() -> (Env, String, String) {
        let env = Env { dir: tempfile::tempdir().unwrap() };
        env.ok(&["init"], b"");
        env.ok(
            &["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &env.path("acme.k")],
            b"",
        );
        env.ok(
            &["tenant", "create", "globex", "--levels", "public", "--keyring", &env.path("globex.k")],
            b"",
        );
        env.ok(&["put", "acme", "doc", "--level", "internal"], b"data");
        env.ok(&["put", "acme", "big", "--level", "secret", "--chunk-size", "16"], &[7u8; 100]);
        env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
        let request = |levels: &str| {
            let args = [
                "request",
                "create",
                "--tenant",
                "acme",
                "--engineer",
                "eve",
                "--levels",
                levels,
                "--reason",
                "r",
                "--case",
                "c",
            ];
            env.ok(&args, b"").trim().to_owned()
        };
        let approved = request("internal");
        let grant = env.ok(&["request", "approve", &approved, "--keyring", &env.path("acme.k")], b"");
        let pending = request("secret");
        (env, grant.trim().to_owned(), pending)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(args)
            .env("LOCKBOX_VAULT", self.dir.path().join("vault"))
            .env("LOCKBOX_PASSPHRASE", "correct horse battery staple")
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

    fn code(&self, args: &[&str]) -> Option<i32> {
        self.run(args, b"").status.code()
    }
}

#[test]
fn removing_an_engineer_revokes_their_grants_and_denies_their_requests() {
    let (env, grant, pending) = Env::new();
    assert_eq!(env.ok(&["get", "acme", "doc", "--identity", &env.path("eve.id")], b""), "data");
    let out = env.ok(&["--json", "engineer", "remove", "eve"], b"");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["grants_revoked"], serde_json::json!([grant]));
    assert_eq!(v["requests_denied"], serde_json::json!([pending]));
    assert_eq!(env.code(&["get", "acme", "doc", "--identity", &env.path("eve.id")]), Some(4));
    let shown = env.ok(&["grant", "show", &grant], b"");
    assert!(shown.contains("status       revoked"), "{shown}");
    let shown = env.ok(&["--json", "request", "show", &pending], b"");
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["status"], "denied");
    assert_eq!(v["decision_reason"], "engineer eve was removed");
    assert!(env.ok(&["audit", "show"], b"").contains("engineer.remove"));
    assert_eq!(env.code(&["engineer", "remove", "eve"]), Some(3));
    assert_eq!(env.code(&["request", "approve", &pending, "--keyring", &env.path("acme.k")]), Some(6));
}

#[test]
fn deleting_a_tenant_needs_its_keyring_erases_its_items_and_keeps_its_history() {
    let (env, grant, pending) = Env::new();
    let before = env.ok(&["--json", "tenant", "show", "acme"], b"");
    // Another tenant's keyring cannot delete it.
    assert_eq!(env.code(&["tenant", "delete", "acme", "--keyring", &env.path("globex.k")]), Some(4));
    assert_eq!(env.ok(&["get", "acme", "doc", "--keyring", &env.path("acme.k")], b""), "data");

    let out = env.ok(&["--json", "tenant", "delete", "acme", "--keyring", &env.path("acme.k")], b"");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items_erased"], 2);
    assert_eq!(v["grants_revoked"], serde_json::json!([grant]));
    assert_eq!(v["requests_denied"], serde_json::json!([pending]));
    assert_eq!(env.code(&["list", "acme"]), Some(3));
    assert_eq!(env.code(&["get", "acme", "doc", "--identity", &env.path("eve.id")]), Some(3));
    // Nothing left behind: no orphan chunk, the audit chain intact, the history still there.
    env.ok(&["verify"], b"");
    env.ok(&["audit", "verify"], b"");
    let history = env.ok(&["audit", "show", "--tenant", "acme"], b"");
    assert!(history.contains("request.approve") && history.contains("tenant.delete"), "{history}");
    let tenants: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "tenant", "list"], b"")).unwrap();
    let names: Vec<&str> = tenants.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["globex"]);

    // Created again with the same keyring: fresh keys, never the ones released before.
    env.ok(
        &["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &env.path("acme.k")],
        b"",
    );
    let after = env.ok(&["--json", "tenant", "show", "acme"], b"");
    let fingerprints = |json: &str| {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["levels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["epochs"][0]["fingerprint"].to_string())
            .collect::<Vec<_>>()
    };
    let (old, new) = (fingerprints(&before), fingerprints(&after));
    assert!(old.iter().all(|f| !new.contains(f)), "a deleted tenant's key came back: {old:?} {new:?}");
}
