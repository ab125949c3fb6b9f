//! Small traps a new user fell into, each now refused or explained.

use crate::kit::cli::{Env, PASS};

/// A vault with tenants acme (public, internal, secret) and globex, and engineer eve.
fn setup() -> Env {
    let env = Env::empty();
    env.ok(&["init"], b"");
    for (tenant, levels) in [("acme", "public,internal,secret"), ("globex", "public")] {
        let keyring = env.path(&format!("{tenant}.keyring"));
        env.ok(&["tenant", "create", tenant, "--levels", levels, "--keyring", &keyring], b"");
    }
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    env
}

#[test]
fn an_approval_naming_a_level_twice_is_refused_before_any_prompt() {
    let env = setup();
    let req = env.ok(
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "--identity",
            &env.path("eve.id"),
            "--levels",
            "internal,secret",
            "--reason",
            "r",
            "--case",
            "c",
        ],
        b"",
    );
    let req = req.lines().next().unwrap();
    // No passphrase at all: had it prompted, it would fail for that (exit 2, another message).
    let out = env.run_with(
        &[
            "request",
            "approve",
            req,
            "--expect",
            &"0".repeat(64),
            "--levels",
            "secret,secret",
            "--keyring",
            &env.path("acme.keyring"),
        ],
        b"",
        "",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("listed twice"), "{stderr}");
    let list = env.ok(&["--json", "grant", "list"], b"");
    assert_eq!(list.trim(), "[]");
}

#[test]
fn another_tenants_keyring_cannot_add_or_rotate_a_level() {
    let env = setup();
    let before = std::fs::read(env.path("globex.keyring")).unwrap();
    let e = env.fails(&["level", "add", "acme", "pii", "--keyring", &env.path("globex.keyring")], 4);
    assert!(e.contains("holds no key of tenant \"acme\""), "{e}");
    let e = env.fails(&["level", "rotate", "acme", "secret", "--keyring", &env.path("globex.keyring")], 4);
    assert!(e.contains("holds no key of tenant \"acme\""), "{e}");
    assert_eq!(std::fs::read(env.path("globex.keyring")).unwrap(), before, "the wrong keyring was changed");
    let show = env.ok(&["--json", "tenant", "show", "acme"], b"");
    assert!(!show.contains("pii"), "{show}");
    assert!(show.contains("\"current_epoch\":1"), "{show}");
}

#[test]
fn a_replace_that_moves_an_item_to_another_level_says_so() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"one");
    let out = env.ok(&["put", "acme", "doc", "--level", "secret", "--replace"], b"two");
    assert!(out.contains("was at level internal") && out.contains("level secret"), "{out}");
    let json = env.ok(&["--json", "put", "acme", "doc", "--level", "secret", "--replace"], b"three");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["previous_level"], serde_json::Value::Null, "same level: nothing to say");
    let json = env.ok(&["--json", "put", "acme", "doc", "--level", "public", "--replace"], b"four");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["previous_level"], "secret");
}

#[test]
fn parse_errors_follow_json_and_ranges_are_the_real_ones() {
    let env = setup();
    let out = env.run_with(&["--json", "bogus"], b"", PASS);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["error"]["kind"], "usage");
    assert_eq!(v["error"]["code"], 2);
    assert!(v["error"]["message"].as_str().unwrap().contains("bogus"), "{v}");

    let e = env.fails(&["put", "acme", "x", "--level", "public", "--chunk-size", "99999999999"], 2);
    assert!(e.contains("16..=16777216"), "{e}");
    let e = env.fails(&["put", "acme", "x", "--level", "public", "--chunk-size", "8"], 2);
    assert!(e.contains("16..=16777216"), "{e}");
}

#[test]
fn a_new_keyring_or_identity_needs_a_real_passphrase() {
    let env = setup();
    let out = env.run_with(
        &["tenant", "create", "initech", "--levels", "a", "--keyring", &env.path("i.keyring")],
        b"",
        "x",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at least 12 characters"), "{stderr}");
    assert!(!std::path::Path::new(&env.path("i.keyring")).exists());
    let out = env.run_with(&["engineer", "enroll", "bob", "--identity", &env.path("bob.id")], b"", "short");
    assert_eq!(out.status.code(), Some(2));
    assert!(!std::path::Path::new(&env.path("bob.id")).exists());
    // With a long enough one it is created.
    env.ok(&["tenant", "create", "initech", "--levels", "a", "--keyring", &env.path("i.keyring")], b"");
}

#[test]
fn durations_and_grants_read_as_people_write_them() {
    let env = setup();
    let keyring = env.path("acme.keyring");
    let policy = env.ok(
        &[
            "tenant",
            "policy",
            "acme",
            "--max-access",
            "1h 30m",
            "--request-ttl",
            "1h30m",
            "--keyring",
            &keyring,
        ],
        b"",
    );
    assert!(policy.contains("at most 1h 30m;") && policy.contains("wait at most 1h 30m"), "{policy}");
    let json = env.ok(&["--json", "tenant", "policy", "acme"], b"");
    assert!(json.contains("\"max_access_secs\":5400"), "{json}");
    env.fails(&["tenant", "policy", "acme", "--max-access", "1.5s"], 2);
    env.fails(&["tenant", "policy", "acme", "--max-access", "soon"], 2);
    env.fails(&["tenant", "policy", "acme", "--max-access", "31days"], 2);

    let eve = env.path("eve.id");
    let create = |levels: &str| {
        let req = env.ok(
            &[
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
                "--duration",
                "1h",
            ],
            b"",
        );
        let mut lines = req.lines();
        (lines.next().unwrap().to_owned(), lines.next().unwrap().strip_prefix("digest ").unwrap().to_owned())
    };
    let ((r1, d1), (r2, d2)) = (create("internal,secret"), create("public"));
    let shown = env.ok(&["request", "show", &r1], b"");
    assert!(shown.contains("waits     until") && !shown.contains("if undecided"), "{shown}");
    let g1 = env.ok(
        &[
            "request",
            "approve",
            &r1,
            "--expect",
            &d1,
            "--levels",
            "internal",
            "--duration",
            "30m",
            "--keyring",
            &keyring,
        ],
        b"",
    );
    let g2 = env.ok(&["request", "approve", &r2, "--expect", &d2, "--keyring", &keyring], b"");
    env.ok(&["grant", "revoke", g2.trim()], b"");

    let shown = env.ok(&["request", "show", &r1], b"");
    assert!(shown.contains("decision  approved") && shown.contains("by alice"), "{shown}");
    assert!(shown.contains("granted   internal (epoch 1) for 30m"), "{shown}");
    assert!(!shown.contains("secret ("), "the levels granted, not those asked for: {shown}");

    let list = env.ok(&["grant", "list"], b"");
    assert!(list.contains("REMAINING") && list.contains("APPROVED BY"), "{list}");
    assert!(list.contains("internal (epoch 1)") && !list.contains("@1.."), "{list}");
    assert!(list.contains("29m") || list.contains("30m"), "{list}");
    let active = env.ok(&["grant", "list", "--status", "active"], b"");
    assert!(active.contains(g1.trim()) && !active.contains(g2.trim()), "{active}");
    let revoked = env.ok(&["--json", "grant", "list", "--status", "revoked"], b"");
    let v: serde_json::Value = serde_json::from_str(&revoked).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["levels"][0]["last_epoch"], 1);
    assert_eq!(v[0]["remaining_secs"], 0);

    let show = env.ok(&["grant", "show", &g1.trim()[..8]], b"");
    assert!(
        show.contains("approved") && show.contains("alice") && show.contains("access       30m"),
        "{show}"
    );
    let json = env.ok(&["--json", "grant", "show", g1.trim()], b"");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["access_secs"], 1800);
    assert!(v["remaining_secs"].as_u64().unwrap() > 1700);
    env.fails(&["grant", "show", "0123456789abcdef0123456789abcdef"], 3);
}

#[test]
fn completions_man_page_and_help_headings() {
    let env = setup();
    let bash = env.ok(&["completions", "bash"], b"");
    assert!(bash.contains("_lockbox()") && bash.contains("request"), "{}", &bash[..200.min(bash.len())]);
    assert!(env.ok(&["completions", "zsh"], b"").contains("#compdef lockbox"));
    let man = env.ok(&["man"], b"");
    assert!(man.contains(".TH lockbox 1") && man.contains("export"), "{}", &man[..200.min(man.len())]);
    env.fails(&["completions", "tcsh"], 2);
    let help = env.ok(&["--help"], b"");
    let global = help.split("Global options:").nth(1).unwrap_or_default();
    for flag in ["--vault", "--json", "--actor", "--wait"] {
        assert!(global.contains(flag), "{flag} is not under its heading:\n{help}");
    }
    assert!(help.contains("rotate a level"), "{help}");
    // --passphrase-file belongs to the commands that open a key, and only to them.
    assert!(!help.contains("--passphrase-file"), "{help}");
    assert!(env.ok(&["get", "--help"], b"").contains("--passphrase-file"));
    assert!(env.ok(&["request", "approve", "--help"], b"").contains("--passphrase-file"));
    env.fails(&["list", "acme", "--passphrase-file", "/dev/null"], 2);
    env.fails(&["--passphrase-file", "/dev/null", "list", "acme"], 2);
}

/// A vault of schema 2 (its audit log was text) is refused on open with the way to move its
/// items.
#[test]
fn a_vault_from_before_typed_audit_is_refused_with_the_way_out() {
    let env = Env::empty();
    env.ok(&["init"], b"");
    // The operator's tools: the meta table's schema mark set back to 2.
    {
        use lockbox::store::raw::{RawWrite, Table};
        let store =
            lockbox::store::RedbStore::open(std::path::Path::new(&env.path("vault/vault.redb"))).unwrap();
        let tx = store.begin_raw_write().unwrap();
        tx.put(Table::Meta, b"schema", &[2]).unwrap();
        tx.commit().unwrap();
    }
    let out = env.run_with(&["tenant", "list"], b"", "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("schema 2") && stderr.contains("lockbox export"), "{stderr}");
}
