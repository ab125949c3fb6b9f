//! The command line's habits, as a new user meets them: `-` for standard input and output,
//! binary kept off a terminal, outputs that fail loudly, whole usage errors in JSON, human
//! durations and sizes, passphrase changes, filters, compaction, and the actor's name.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::kit::cli::{Env, PASS};

/// A vault with tenant acme (internal, secret) created on this machine.
fn setup() -> Env {
    let env = Env::empty();
    env.ok(&["init"], b"");
    env.ok(&["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &env.path("k")], b"");
    env
}

/// Engineer eve, enrolled, asks for level internal; her request id and the digest her client
/// printed.
fn eve_requests_internal(env: &Env) -> (String, String) {
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    let filed = env.ok(
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
            "r",
            "--case",
            "c",
        ],
        b"",
    );
    let mut lines = filed.lines();
    let id = lines.next().unwrap().to_owned();
    (id, lines.next().unwrap().strip_prefix("digest ").unwrap().to_owned())
}

fn lockbox(env: &Env, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockbox"));
    cmd.args(args)
        .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
        .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .env("LOCKBOX_ACTOR", "alice");
    cmd
}

#[test]
fn a_dash_is_standard_input_or_output() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "-l", "internal", "-f", "-"], b"from stdin");
    assert_eq!(env.ok(&["get", "acme", "doc", "-k", &env.path("k"), "-o", "-"], b""), "from stdin");
    assert!(!env.dir.path().join("-").exists(), "no file named -");
    // A backup through a pipe restores the same vault.
    let backup = lockbox(&env, &["backup", "-"]).stderr(Stdio::piped()).output().unwrap();
    assert!(backup.status.success(), "{}", String::from_utf8_lossy(&backup.stderr));
    assert!(String::from_utf8_lossy(&backup.stderr).contains("records"));
    let mut restore = lockbox(&env, &["--vault", &env.path("again"), "restore", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    restore.stdin.take().unwrap().write_all(&backup.stdout).unwrap();
    let restored = restore.wait_with_output().unwrap();
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));
    let list = env.ok(&["--vault", &env.path("again"), "list", "acme"], b"");
    assert!(list.contains("doc"), "{list}");
}

#[test]
fn a_backup_its_reader_cuts_short_fails_and_is_logged_as_failed() {
    let env = setup();
    let big: Vec<u8> = (0..4_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    env.ok(&["put", "acme", "big", "-l", "internal"], &big);
    for target in ["-", "/dev/stdout"] {
        let mut child =
            lockbox(&env, &["backup", target]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut head = [0u8; 1000];
        child.stdout.as_mut().unwrap().read_exact(&mut head).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{target}: {stderr}");
        assert!(stderr.contains("cut short"), "{stderr}");
    }
    let log = env.ok(&["audit", "show"], b"");
    assert_eq!(log.matches("backup.failed").count(), 2, "{log}");
}

#[test]
fn a_refused_restore_leaves_nothing_behind() {
    let env = setup();
    std::fs::write(env.path("bogus"), b"not a backup at all").unwrap();
    let target = env.path("fresh/deeper");
    env.fails(&["--vault", &target, "restore", &env.path("bogus")], 5);
    assert!(!std::path::Path::new(&env.path("fresh")).exists(), "the directories it made are gone");
    // A vault already there is never touched by a refused restore.
    env.fails(&["--vault", &env.path("vault"), "restore", &env.path("bogus")], 6);
    env.ok(&["list", "acme"], b"");
}

#[test]
fn binary_is_kept_off_a_terminal_unless_asked_for() {
    let env = setup();
    env.ok(&["put", "acme", "text", "-l", "internal"], "plain text, ünïcode\n".as_bytes());
    env.ok(&["put", "acme", "bin", "-l", "internal"], &[0u8, 159, 146, 150, 1, 2, 3]);
    // `script` gives the command a terminal as its standard output.
    let on_terminal = |args: &str| {
        let line = format!("{} {args}", env!("CARGO_BIN_EXE_lockbox"));
        Command::new("script")
            .args(["-qec", &line, "/dev/null"])
            .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
            .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
            .env("LOCKBOX_PASSPHRASE", PASS)
            .env("LOCKBOX_ACTOR", "alice")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let k = env.path("k");
    let out = on_terminal(&format!("get acme bin -k {k}"));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(shown.contains("is binary and standard output is a terminal"), "{shown}");
    let out = on_terminal(&format!("get acme text -k {k}"));
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("ünïcode"));
    let out = on_terminal(&format!("get acme bin -k {k} -o -"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let out = on_terminal("get acme bin --raw");
    assert_eq!(out.status.code(), Some(2), "an envelope is binary too");
}

#[test]
fn usage_errors_are_whole_in_json_and_durations_and_sizes_read_as_people_read_them() {
    let env = setup();
    let out = env.run(&["--json", "put", "acme"], b"");
    let e: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(e["error"]["code"], 2);
    assert!(e["error"]["message"].as_str().unwrap().contains("<ITEM>"), "{e}");
    env.ok(&["put", "acme", "doc", "-l", "internal"], &[b'x'; 1536]);
    let list = env.ok(&["list", "acme"], b"");
    assert!(list.contains("1.5 KiB"), "{list}");
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "list", "acme"], b"")).unwrap();
    assert_eq!(json[0]["size"], 1536, "JSON keeps numbers");
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    let e = env.fails(
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
            "r",
            "--case",
            "c",
            "--duration",
            "5h",
        ],
        2,
    );
    assert!(e.contains("5h is longer than tenant \"acme\" allows (4h) (the customer sets it with `lockbox tenant policy acme`)"), "{e}");
}

#[test]
fn a_key_file_gets_a_new_passphrase_and_the_old_one_opens_nothing() {
    let env = setup();
    let new = env.path("new.pass");
    std::fs::write(&new, "a brand new passphrase\n").unwrap();
    let out = env.ok(&["passwd", &env.path("k"), "--new-passphrase-file", &new], b"");
    assert!(out.contains("a keyring"), "{out}");
    env.ok(&["put", "acme", "doc", "-l", "internal"], b"data");
    env.fails(&["get", "acme", "doc", "-k", &env.path("k")], 4);
    let out = env.run_with(&["get", "acme", "doc", "-k", &env.path("k")], b"", "a brand new passphrase");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "data");
    std::fs::write(&new, "short").unwrap();
    let e = env.fails(&["passwd", &env.path("k"), "--new-passphrase-file", &new], 2);
    assert!(e.contains("at least 12"), "{e}");
}

#[test]
fn list_and_export_filter_and_an_engineers_export_counts_only_its_scope() {
    let env = setup();
    for (id, level) in [("runbooks/a", "internal"), ("runbooks/b", "secret"), ("notes/c", "internal")] {
        env.ok(&["put", "acme", id, "-l", level], id.as_bytes());
    }
    let list = env.ok(&["list", "acme", "--prefix", "runbooks/"], b"");
    assert!(
        list.contains("runbooks/a") && list.contains("runbooks/b") && !list.contains("notes/c"),
        "{list}"
    );
    let list = env.ok(&["list", "acme", "--prefix", "runbooks/", "-l", "internal"], b"");
    assert!(list.contains("runbooks/a") && !list.contains("runbooks/b"), "{list}");
    let out = env.path("out");
    env.ok(&["export", "acme", &out, "-k", &env.path("k"), "--prefix", "notes/"], b"");
    assert!(std::path::Path::new(&out).join("notes/c").exists());
    assert!(!std::path::Path::new(&out).join("runbooks").exists());
    // An engineer granted `internal` exports what the grant covers and exits 0.
    let (id, digest) = eve_requests_internal(&env);
    let approved = env.run(&["request", "approve", &id, "--expect", &digest, "-k", &env.path("k")], b"");
    assert!(approved.status.success());
    assert!(String::from_utf8_lossy(&approved.stderr).contains("released internal (epoch 1) to eve until"));
    let requests = env.ok(&["request", "list"], b"");
    assert!(requests.contains("GRANTED") && requests.contains(" internal "), "{requests}");
    let scoped = env.path("scoped");
    let done = env.ok(&["export", "acme", &scoped, "-i", &env.path("eve.id")], b"");
    assert!(done.contains("exported 2 items") && done.contains("1 item(s) are outside"), "{done}");
}

#[test]
fn compact_gives_space_back_and_waits_only_when_asked() {
    let env = setup();
    let big: Vec<u8> = (0..6_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    env.ok(&["put", "acme", "big", "-l", "internal"], &big);
    env.ok(&["rm", "acme", "big"], b"");
    let before = std::fs::metadata(env.dir.path().join("vault/vault.redb")).unwrap().len();
    // A writer still reading its input holds the vault: compaction is refused, not forced.
    let mut holder = lockbox(&env, &["put", "acme", "slow", "-l", "internal"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    env.fails(&["compact"], 7);
    // With --wait it waits for the other process to close the vault.
    let waiter = lockbox(&env, &["--wait", "30s", "compact"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    drop(holder.stdin.take());
    holder.wait().unwrap();
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.contains("given back"), "{out}");
    let after = std::fs::metadata(env.dir.path().join("vault/vault.redb")).unwrap().len();
    assert!(after < before, "{before} -> {after}");
    env.ok(&["audit", "verify"], b"");
}

#[test]
fn an_empty_or_unset_user_falls_back_to_the_login_name() {
    let env = setup();
    for user in [Some(""), None] {
        let mut cmd = lockbox(&env, &["put", "acme", "doc", "-l", "internal", "--replace"]);
        cmd.env_remove("LOCKBOX_ACTOR").stdin(Stdio::null());
        match user {
            Some(u) => cmd.env("USER", u),
            None => cmd.env_remove("USER"),
        };
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let log = env.ok(&["audit", "show"], b"");
    let me = std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find(|l| l.split(':').nth(2) == Some(&uid().to_string()))
        .map(|l| l.split(':').next().unwrap().to_owned())
        .unwrap_or_else(|| format!("uid {}", uid()));
    assert!(log.matches(&format!("  {me}  ")).count() >= 2, "{me}: {log}");
}

/// This process's uid.
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

#[test]
fn a_vault_on_read_only_storage_is_listed_and_says_why_it_cannot_change() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "-l", "internal"], b"data");
    // A read-only view of the vault directory, as a snapshot or a mounted backup would be.
    let ro = env.path("ro");
    std::fs::create_dir(&ro).unwrap();
    let vault = env.path("vault");
    let mounted = Command::new("mount").args(["--bind", &vault, &ro]).status().is_ok_and(|s| s.success())
        && Command::new("mount").args(["-o", "remount,ro,bind", &ro]).status().is_ok_and(|s| s.success());
    if !mounted {
        let _ = Command::new("umount").arg(&ro).status();
        assert!(std::env::var_os("CI").is_none(), "CI must be able to make a read-only bind mount (root)");
        eprintln!("skipped: cannot make a read-only bind mount here (needs root)");
        return;
    }
    let outcome = std::panic::catch_unwind(|| {
        let list = env.ok(&["--vault", &ro, "list", "acme"], b"");
        assert!(list.contains("doc"), "{list}");
        env.ok(&["--vault", &ro, "audit", "show"], b"");
        env.ok(&["--vault", &ro, "tenant", "show", "acme"], b"");
        let e = env.fails(&["--vault", &ro, "put", "acme", "other", "-l", "internal"], 4);
        assert!(e.contains("read-only storage") && e.contains(&ro), "{e}");
    });
    let _ = Command::new("umount").arg(&ro).status();
    outcome.unwrap();
}

#[test]
fn the_shell_completes_names_from_the_vault() {
    let env = setup();
    env.ok(&["tenant", "create", "globex", "--levels", "public", "--keyring", &env.path("k")], b"");
    env.ok(&["put", "acme", "runbooks/disk", "-l", "internal"], b"x");
    env.ok(&["put", "acme", "notes/a", "-l", "secret"], b"x");
    let (request, _) = eve_requests_internal(&env);
    // What bash's completion function asks: the words so far, and which one to complete.
    let complete = |words: &[&str]| {
        let out = lockbox(&env, &[])
            .env("LOCKBOX_COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", (words.len() - 1).to_string())
            .env("_CLAP_COMPLETE_COMP_TYPE", "9")
            .env("_CLAP_COMPLETE_SPACE", "true")
            .arg("--")
            .args(words)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        // Names only (an empty word is offered the flags too).
        let words = text.split(['\u{b}', '\n']).filter(|w| !w.is_empty() && !w.starts_with('-'));
        words.map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(complete(&["lockbox", "get", ""]), ["acme", "globex"]);
    assert_eq!(complete(&["lockbox", "get", "acme", "run"]), ["runbooks/disk"]);
    assert_eq!(complete(&["lockbox", "put", "acme", "x", "--level", "s"]), ["secret"]);
    assert_eq!(complete(&["lockbox", "request", "show", &request[..4]]), vec![request]);
    let script = lockbox(&env, &[]).env("LOCKBOX_COMPLETE", "bash").output().unwrap();
    assert!(String::from_utf8_lossy(&script.stdout).contains("_clap_complete_lockbox"));
}

#[test]
fn an_engineers_export_without_an_active_grant_is_refused_not_out_of_scope() {
    let env = setup();
    env.ok(&["put", "acme", "doc", "-l", "internal"], b"x");
    let (id, digest) = eve_requests_internal(&env);
    let grant = env.ok(&["request", "approve", &id, "--expect", &digest, "-k", &env.path("k")], b"");
    env.ok(&["grant", "revoke", grant.trim()], b"");
    let e = env.fails(&["export", "acme", &env.path("out"), "-i", &env.path("eve.id")], 4);
    assert!(e.contains("revoked"), "{e}");
}

#[test]
fn an_export_by_level_still_reports_a_damaged_item() {
    use lockbox::store::{RedbStore, Store};
    let env = setup();
    env.ok(&["put", "acme", "doc", "-l", "internal"], b"x");
    {
        let store = RedbStore::open(&env.dir.path().join("vault/vault.redb")).unwrap();
        let tx = store.begin_write().unwrap();
        let mut item = tx.item("acme", "doc").unwrap().unwrap();
        item.header[0] ^= 1;
        tx.put_item("acme", "doc", &item).unwrap();
        tx.commit().unwrap();
    }
    let out = env.run(&["export", "acme", &env.path("out"), "-k", &env.path("k"), "-l", "internal"], b"");
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn tokens_are_shown_once_listed_without_their_secret_and_revoked() {
    let env = setup();
    let out = env.ok(&["token", "create", "-r", "writer", "-t", "acme", "--expires", "8h"], b"");
    let token = out.trim().to_owned();
    assert!(token.starts_with("lbx_") && token.len() == 64, "{out}");
    let id = &token[4..20];
    let listed = env.ok(&["token", "list"], b"");
    assert!(listed.contains(id) && listed.contains("writer") && listed.contains("active"), "{listed}");
    assert!(!listed.contains(&token[21..]), "the secret is never listed");
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["--json", "token", "list"], b"")).unwrap();
    assert_eq!(json[0]["id"], id);
    assert!(json[0].get("token").is_none());
    env.fails(&["token", "create", "-r", "engineer", "-t", "acme"], 2);
    env.fails(&["token", "create", "-r", "root", "-t", "acme"], 2);
    env.fails(&["token", "create", "-r", "writer", "-t", "nobody"], 3);
    env.fails(&["token", "create", "-r", "writer", "-t", "acme", "--expires", "400d"], 2);
    env.ok(&["token", "revoke", id], b"");
    assert!(env.ok(&["token", "list"], b"").contains("revoked"));
    env.fails(&["token", "revoke", id], 6);
    env.fails(&["token", "revoke", "nothex"], 2);
    // Nothing of the token is in the vault's files.
    let db = std::fs::read(env.dir.path().join("vault/vault.redb")).unwrap();
    assert!(!db.windows(43).any(|w| w == &token.as_bytes()[21..]));
}
