//! Customer-rooted trust from the command line: writers pin the tenant key, approvals check
//! the engineer's digest, request text cannot pass for a field, keyrings resync explicitly.

use crate::kit::cli::Env;

/// A vault with tenant acme (internal, secret), created on this machine (so pinned here), and
/// engineer eve enrolled.
fn setup() -> Env {
    let env = Env::empty();
    env.ok(&["init"], b"");
    let out = env
        .ok(&["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &env.path("k")], b"");
    assert!(out.contains("tenant signing key ") && out.contains("lockbox tenant trust acme"), "{out}");
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    env
}

fn fingerprint(env: &Env) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&env.ok(&["--json", "tenant", "show", "acme"], b"")).unwrap();
    v["signing_key_fingerprint"].as_str().unwrap().to_owned()
}

fn request(env: &Env, reason: &str) -> (String, String) {
    let out = env.ok(
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "--identity",
            &env.path("eve.id"),
            "--levels",
            "internal",
            "--reason",
            reason,
            "--case",
            "CS-9",
        ],
        b"",
    );
    let mut lines = out.lines();
    let id = lines.next().unwrap().to_owned();
    let digest = lines.next().unwrap().strip_prefix("digest ").unwrap().to_owned();
    (id, digest)
}

#[test]
fn a_writer_on_another_machine_pins_the_tenant_before_writing() {
    let env = setup();
    let fp = fingerprint(&env);
    assert_eq!(fp.len(), 64);
    let writer = env.path("writer.trust");
    let put = |trust: &str, extra: &[&str]| {
        let mut args = vec!["--trust", trust, "put", "acme", "doc", "--level", "internal", "--replace"];
        args.extend_from_slice(extra);
        env.run(&args, b"data")
    };
    let out = put(&writer, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("not pinned") && stderr.contains("lockbox tenant trust acme"), "{stderr}");
    env.fails(&["--trust", &writer, "tenant", "trust", "acme", "xyz"], 2);
    // A fingerprint that is not what the vault shows is refused, unless the writer insists.
    let e = env.fails(&["--trust", &writer, "tenant", "trust", "acme", &"ab".repeat(32)], 5);
    assert!(e.contains("--replace") && e.contains(&fp), "{e}");
    env.ok(&["--trust", &writer, "tenant", "trust", "acme", &"ab".repeat(32), "--replace"], b"");
    let out = put(&writer, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("not the pinned"), "{stderr}");
    // Replacing a pin needs --replace, and asks (--yes off a terminal).
    let e = env.fails(&["--trust", &writer, "tenant", "trust", "acme", &fp], 6);
    assert!(e.contains("--replace"), "{e}");
    env.fails(&["--trust", &writer, "tenant", "trust", "acme", &fp, "--replace"], 2);
    env.ok(&["--trust", &writer, "tenant", "trust", "acme", &fp, "--replace", "--yes"], b"");
    assert!(put(&writer, &[]).status.success());
    let text = std::fs::read_to_string(&writer).unwrap();
    assert!(text.contains(&fp) && text.contains(" acme "), "{text}");
    // No trust on first use for writers: what they write would be readable by whoever chose
    // the key at first use.
    let out = put(&env.path("tofu.trust"), &["--tofu"]);
    assert_eq!(out.status.code(), Some(2), "--tofu is gone for writers");
}

#[test]
fn an_approval_off_a_terminal_needs_the_engineers_digest_and_checks_it() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"data");
    let (id, digest) = request(&env, "disk full");
    let keyring = env.path("k");
    let e = env.fails(&["request", "approve", &id, "--keyring", &keyring], 2);
    assert!(e.contains("--expect"), "{e}");
    env.fails(&["request", "approve", &id[..8], "--expect", &digest, "--keyring", &keyring], 2);
    let e = env.fails(&["request", "approve", &id, "--expect", &"0".repeat(64), "--keyring", &keyring], 5);
    assert!(e.contains("does not match") && e.contains("nothing was released"), "{e}");
    assert_eq!(env.ok(&["--json", "grant", "list"], b"").trim(), "[]");
    // The vault's own view is never offered as the digest to paste: it would match whatever
    // the vault shows.
    let shown = env.ok(&["request", "show", &id], b"");
    assert!(!shown.contains(&digest) && !shown.contains("digest"), "{shown}");
    let json = env.ok(&["--json", "request", "show", &id], b"");
    assert!(!json.contains(&digest) && !json.contains("\"digest\""), "{json}");
    let grant = env.ok(&["request", "approve", &id, "--expect", &digest, "--keyring", &keyring], b"");
    assert_eq!(grant.trim().len(), 32);
    assert_eq!(env.ok(&["get", "acme", "doc", "--identity", &env.path("eve.id")], b""), "data");
}

#[test]
fn request_text_cannot_pass_for_another_field() {
    let env = setup();
    let (id, _) = request(&env, "routine\nlevels    secret\u{202e}terces");
    let shown = env.ok(&["request", "show", &id], b"");
    let levels: Vec<&str> = shown.lines().filter(|l| l.starts_with("levels")).collect();
    assert_eq!(levels, ["levels    internal"], "{shown}");
    assert!(shown.contains("routine\\nlevels") && shown.contains("\\u{202e}"), "{shown}");
    // The security fields come before any free text.
    let pos = |what: &str| shown.find(what).unwrap();
    assert!(pos("engineer") < pos("reason") && pos("levels") < pos("reason"), "{shown}");
}

#[test]
fn a_keyring_restored_from_an_older_copy_is_resynced_explicitly() {
    let env = setup();
    let keyring = env.path("k");
    let old = std::fs::read(&keyring).unwrap();
    env.ok(&["level", "rotate", "acme", "internal", "--keyring", &keyring], b"");
    std::fs::write(&keyring, &old).unwrap();
    let e = env.fails(&["level", "rotate", "acme", "secret", "--keyring", &keyring], 5);
    assert!(e.contains("--resync") || e.contains("resync"), "{e}");
    let out = env.ok(&["tenant", "resync", "acme", "--keyring", &keyring], b"");
    assert!(out.contains("seq 2") && out.contains("internal@2"), "{out}");
    env.ok(&["level", "rotate", "acme", "secret", "--keyring", &keyring], b"");
    let out = env.ok(&["tenant", "refresh", "acme", "--keyring", &keyring], b"");
    assert!(out.contains("writers accept it until"), "{out}");
    // verify --keyring names the key the restored copy lost.
    let out = env.run(&["verify", "--keyring", &keyring], b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    assert!(
        stdout.contains("level \"internal\" epoch 2 is registered but this keyring has no key"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("DAMAGED").count(), 1, "{stdout}");
}

#[test]
fn no_actor_or_logged_text_can_split_an_audit_row() {
    let env = setup();
    let e = env.fails(&["--actor", "mallory\n  99  alice  request.approve", "tenant", "list"], 2);
    assert!(e.contains("printable"), "{e}");
    env.fails(&["--actor", &"a".repeat(65), "tenant", "list"], 2);
    request(&env, "line one\n  42  alice  grant.revoke");
    let log = env.ok(&["audit", "show"], b"");
    let rows: Vec<&str> = log.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{log}");
    for row in rows {
        let seq = row.split_whitespace().next().unwrap();
        assert!(seq.parse::<u64>().is_ok(), "a row that does not start with its number: {row:?}");
    }
    assert!(log.contains("signed manifest seq 1"), "{log}");
}

#[test]
fn an_export_is_logged_with_what_it_actually_wrote() {
    let env = setup();
    for (item, level) in [("i1", "internal"), ("i2", "internal"), ("s1", "secret"), ("s2", "secret")] {
        env.ok(&["put", "acme", item, "--level", level], item.as_bytes());
    }
    let (id, digest) = request(&env, "r");
    env.ok(&["request", "approve", &id, "--expect", &digest, "--keyring", &env.path("k")], b"");
    let out = env.run(&["export", "acme", &env.path("out"), "--identity", &env.path("eve.id")], b"");
    assert_eq!(out.status.code(), Some(0), "the secret items are out of scope, not failures");
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 item(s) are outside"), "{out:?}");
    let log = env.ok(&["audit", "show", "--verbose"], b"");
    assert!(log.contains("2 of 4 item(s) written to"), "{log}");
    let listed: Vec<&str> =
        log.lines().skip_while(|l| !l.contains("(export.written), 2 item id(s)")).skip(1).take(3).collect();
    assert_eq!(listed[..2], ["    i1", "    i2"], "{log}");
    assert!(!listed.get(2).is_some_and(|l| l.starts_with("    ")), "only what was written: {log}");
}

#[test]
fn audit_checkpoints_from_the_command_line() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"data");
    let out = env.ok(&["audit", "checkpoint", "acme", "--keyring", &env.path("k")], b"");
    assert!(out.contains("3 audit entries checked and checkpointed"), "{out}");
    let out = env.ok(&["audit", "verify", "--keyring", &env.path("k")], b"");
    assert!(
        out.contains("tenant acme: chain intact, 3 entries (3 under the keyring's last checkpoint)"),
        "{out}"
    );
    assert!(out.contains("audit log intact"), "{out}");
    env.fails(&["audit", "checkpoint", "nosuch", "--keyring", &env.path("k")], 3);
}

#[test]
fn a_level_is_reencrypted_from_the_command_line() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"data");
    let out =
        env.ok(&["level", "rotate", "acme", "internal", "--reencrypt", "--keyring", &env.path("k")], b"");
    assert!(out.contains("epoch 2; 1 item(s) re-encrypted"), "{out}");
    assert_eq!(env.ok(&["get", "acme", "doc", "--keyring", &env.path("k")], b""), "data");
    env.fails(
        &["level", "rotate", "acme", "internal", "--reencrypt", "--rewrap", "--keyring", &env.path("k")],
        2,
    );
    let listed = env.ok(&["--json", "list", "acme"], b"");
    assert!(listed.contains("\"epoch\":2"), "{listed}");
}

#[test]
fn an_audit_monitor_from_the_command_line() {
    let env = setup();
    let monitor = env.path("acme.monitor");
    // No monitor named: the monitor key is refused until the customer names it.
    let out = env.ok(&["monitor", "init", "--monitor", &monitor], b"");
    let public = out.lines().nth(1).unwrap().split(' ').nth(2).unwrap().trim_end_matches(':').to_owned();
    assert_eq!(public.len(), 64, "{out}");
    env.fails(&["monitor", "init", "--monitor", &monitor], 6);
    env.fails(&["monitor", "checkpoint", "acme", "--monitor", &monitor], 4);
    env.fails(&["monitor", "trust", "acme", &"ab".repeat(32), "--monitor", &monitor], 5);
    env.ok(&["monitor", "trust", "acme", &fingerprint(&env), "--monitor", &monitor], b"");
    let out = env.run(&["monitor", "checkpoint", "acme", "--monitor", &monitor], b"");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not name this monitor key"));
    env.fails(&["tenant", "monitor", "acme", "--keyring", &env.path("k"), "--key", "xyz"], 2);
    let k = env.path("k");
    let out =
        env.run(&["tenant", "monitor", "acme", "--keyring", &k, "--key", &public, "--every", "30s"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("between 1 minute and 1 day"));
    env.fails(&["tenant", "monitor", "acme", "--keyring", &env.path("k")], 2);
    env.ok(&["tenant", "monitor", "acme", "--keyring", &k, "--key", &public, "--every", "10m"], b"");
    // Named but not yet run: audit verify says the checkpoint is missing (exit 5).
    let out = env.run(&["audit", "verify", "--keyring", &k], b"");
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no checkpoint"));
    // Writers need the monitor's word that the manifest is current: none yet, so no write.
    let e = env.fails(&["put", "acme", "doc", "--level", "internal"], 5);
    assert!(e.contains("holds no checkpoint"), "{e}");
    let out = env.ok(&["monitor", "checkpoint", "acme", "--monitor", &monitor], b"");
    assert!(out.contains("checkpointed"), "{out}");
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"data");
    env.ok(&["monitor", "checkpoint", "acme", "--monitor", &monitor], b"");
    let out = env.ok(&["audit", "verify", "--keyring", &k], b"");
    assert!(out.contains("the audit monitor checkpointed"), "{out}");
    env.ok(&["tenant", "monitor", "acme", "--keyring", &k, "--none"], b"");
    env.fails(&["monitor", "checkpoint", "acme", "--monitor", &monitor], 4);
    env.ok(&["audit", "verify", "--keyring", &k], b"");
}

#[test]
fn a_vault_restored_from_an_older_backup_is_accepted_explicitly() {
    let env = setup();
    let keyring = env.path("k");
    env.ok(&["put", "acme", "doc", "--level", "internal"], b"one");
    env.ok(&["backup", &env.path("b.backup")], b"");
    env.ok(&["level", "rotate", "acme", "internal", "--keyring", &keyring], b"");
    env.ok(&["put", "acme", "doc2", "--level", "internal"], b"two");
    std::fs::rename(env.path("vault"), env.path("vault.old")).unwrap();
    env.ok(&["--vault", &env.path("vault"), "restore", &env.path("b.backup")], b"");
    // Not a dead end: the refusal names the way on.
    let e = env.fails(&["level", "rotate", "acme", "secret", "--keyring", &keyring], 5);
    assert!(e.contains("accept-restore"), "{e}");
    let e = env.fails(&["tenant", "accept-restore", "acme", "--keyring", &keyring], 2);
    assert!(e.contains("--yes"), "{e}");
    let out = env.run(&["tenant", "accept-restore", "acme", "--keyring", &keyring, "--yes"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("level internal moves from epoch 1 to 3"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("manifest seq 3 signed after seq 1"), "{stderr}");
    // Everything works again: keyring commands, writers that saw the lost manifest, readers.
    env.ok(&["level", "rotate", "acme", "secret", "--keyring", &keyring], b"");
    env.ok(&["put", "acme", "doc3", "--level", "internal"], b"three");
    assert_eq!(env.ok(&["get", "acme", "doc", "--keyring", &keyring], b""), "one");
    assert_eq!(env.ok(&["get", "acme", "doc3", "--keyring", &keyring], b""), "three");
    env.ok(&["audit", "verify", "--keyring", &keyring], b"");
    env.fails(&["tenant", "accept-restore", "acme", "--keyring", &keyring, "--yes"], 6);
}

/// Checkpoints land while writers keep appending to the chain: a checkpoint of what the
/// monitor (or the customer) read is stored even if entries were added after that; and the
/// keyring's whole-chain checks report no damage in writes that land while they read.
#[test]
fn checkpoints_land_under_steady_writes() {
    let env = setup();
    let monitor = env.path("acme.monitor");
    let k = env.path("k");
    let out = env.ok(&["monitor", "init", "--monitor", &monitor], b"");
    let public = out.lines().nth(1).unwrap().split(' ').nth(2).unwrap().trim_end_matches(':').to_owned();
    env.ok(&["monitor", "trust", "acme", &fingerprint(&env), "--monitor", &monitor], b"");
    env.ok(&["tenant", "monitor", "acme", "--keyring", &k, "--key", &public, "--every", "10m"], b"");
    env.ok(&["monitor", "checkpoint", "acme", "--monitor", &monitor], b"");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (stop, vault, trust) =
                (stop.clone(), env.dir.path().join("vault"), env.dir.path().join("trust"));
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lockbox"))
                        .args(["put", "acme", &format!("w{w}-{n}"), "--level", "internal"])
                        .env("LOCKBOX_VAULT", &vault)
                        .env("LOCKBOX_TRUST", &trust)
                        .env("LOCKBOX_ACTOR", "writer")
                        .stdin(std::process::Stdio::null())
                        .output()
                        .unwrap();
                    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                    n += 1;
                }
                n
            })
        })
        .collect();
    for _ in 0..6 {
        env.ok(&["monitor", "checkpoint", "acme", "--monitor", &monitor], b"");
        env.ok(&["audit", "checkpoint", "acme", "--keyring", &k], b"");
        // The whole-chain checks find nothing amiss in writes that land while they read.
        env.ok(&["verify", "--keyring", &k], b"");
        env.ok(&["audit", "verify", "--keyring", &k], b"");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(written >= 6, "the writers kept writing ({written} puts)");
    env.ok(&["monitor", "checkpoint", "acme", "--monitor", &monitor], b"");
    env.ok(&["audit", "verify", "--keyring", &k], b"");
}
