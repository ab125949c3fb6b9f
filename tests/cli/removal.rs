//! engineer remove and tenant delete: what the removed party could still use is closed, and the
//! audit trail stays.

use crate::kit::cli::Env;

/// Tenants acme (internal, secret) and globex; engineer eve with an active grant to acme's
/// internal level and a pending request for secret. Returns the grant and request ids.
fn setup() -> (Env, String, String) {
    let env = Env::empty();
    env.ok(&["init"], b"");
    env.ok(
        &["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &env.path("acme.k")],
        b"",
    );
    env.ok(&["tenant", "create", "globex", "--levels", "public", "--keyring", &env.path("globex.k")], b"");
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"data");
    env.ok(&["put", "acme", "big", "--level", "secret", "--chunk-size", "16"], &[7u8; 100]);
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    let eve = env.path("eve.id");
    let request = |levels: &str| {
        let args = [
            "request",
            "create",
            "--tenant",
            "acme",
            "--identity",
            &eve,
            "--levels",
            levels,
            "--reason",
            "r",
            "--case",
            "c",
        ];
        let out = env.ok(&args, b"");
        let mut lines = out.lines();
        let id = lines.next().unwrap().to_owned();
        (id, lines.next().unwrap().strip_prefix("digest ").unwrap().to_owned())
    };
    let (approved, digest) = request("internal");
    let grant = env
        .ok(&["request", "approve", &approved, "--expect", &digest, "--keyring", &env.path("acme.k")], b"");
    let (pending, _) = request("secret");
    (env, grant.trim().to_owned(), pending)
}

#[test]
fn removing_an_engineer_revokes_their_grants_and_denies_their_requests() {
    let (env, grant, pending) = setup();
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
    let (env, grant, pending) = setup();
    let before = env.ok(&["--json", "tenant", "show", "acme"], b"");
    // Another tenant's keyring cannot delete it.
    // Off a terminal, deleting needs --yes (on one, the tenant's name typed back).
    let e = env.fails(&["tenant", "delete", "acme", "--keyring", &env.path("acme.k")], 2);
    assert!(e.contains("--yes"), "{e}");
    assert_eq!(env.code(&["tenant", "delete", "acme", "--yes", "--keyring", &env.path("globex.k")]), Some(4));
    assert_eq!(env.ok(&["get", "acme", "doc", "--keyring", &env.path("acme.k")], b""), "data");

    let out = env.ok(&["--json", "tenant", "delete", "acme", "--yes", "--keyring", &env.path("acme.k")], b"");
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
