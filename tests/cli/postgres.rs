//! The CLI on a vault in PostgreSQL (`LOCKBOX_TEST_POSTGRES`; skipped and said otherwise, a
//! failure under CI): the story on it, and backups moving a vault between engines both ways.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::kit::TestDatabase;
use crate::kit::cli::PASS;

/// Runs `lockbox ARGS` on the vault at `vault` (a URL or a directory, given in LOCKBOX_VAULT,
/// never on the command line), files under `home`.
fn run(vault: &str, home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    run_with(vault, home, args, stdin, |_| {})
}

/// [`run`], with `more` set on the command (an environment of its own, say).
fn run_with(
    vault: &str,
    home: &Path,
    args: &[&str],
    stdin: &[u8],
    more: impl FnOnce(&mut Command),
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lockbox"));
    command
        .args(args)
        .env("LOCKBOX_VAULT", vault)
        .env("LOCKBOX_TRUST", home.join("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .env("LOCKBOX_ACTOR", "alice")
        .current_dir(home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    more(&mut command);
    let mut child = command.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(vault: &str, home: &Path, args: &[&str], stdin: &[u8]) -> String {
    let out = run(vault, home, args, stdin);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    if let Some(password) = password() {
        let shown = format!("{err}{}", String::from_utf8_lossy(&out.stdout));
        // As a URL would carry it (the password alone may be a common word).
        let leaks = [format!(":{password}@"), format!("password={password}")];
        assert!(!leaks.iter().any(|l| shown.contains(l.as_str())), "the database password was shown");
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A server on `vault` (plain HTTP on loopback, as tests may): the process and its URL.
fn serve(vault: &str) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["serve", "--plain-http", "--listen", "127.0.0.1:0"])
        .env("LOCKBOX_VAULT", vault)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
        .unwrap();
    (child, line.trim().strip_prefix("listening on ").unwrap().to_owned())
}

/// `lockbox --server URL ARGS` with `token`, from a machine of its own under `home`.
fn remote(url: &str, token: &str, home: &Path, args: &[&str], stdin: &[u8]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["--server", url])
        .args(args)
        .env("LOCKBOX_TOKEN", token)
        .env("LOCKBOX_TRUST", home.join("trust-remote"))
        .env("LOCKBOX_VAULT", home.join("none"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            // A client that fails early stops reading its input: its exit status says why.
            let _ = std::io::Write::write_all(&mut c.stdin.take().unwrap(), stdin);
            c.wait_with_output()
        })
        .unwrap()
}

/// The password in LOCKBOX_TEST_POSTGRES, if it has one.
fn password() -> Option<String> {
    let url = std::env::var("LOCKBOX_TEST_POSTGRES").ok()?;
    let userinfo = url.split_once("://")?.1.rsplit_once('@')?.0.to_owned();
    userinfo.split_once(':').map(|(_, p)| p.to_owned()).filter(|p| !p.is_empty())
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

/// The items of a vault, as (id, level, size).
fn items(vault: &str, home: &Path) -> Vec<(String, String, u64)> {
    let listed = json(&ok(vault, home, &["--json", "list", "acme"], b""));
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["item"].as_str().unwrap().into(),
                i["level"].as_str().unwrap().into(),
                i["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_vault_on_postgres_works_and_moves_between_engines_both_ways() {
    let (Some(db), Some(db2)) = (TestDatabase::new(), TestDatabase::new()) else { return };
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (pg, pg2) = (db.url(), db2.url());
    let keyring = h.join("k").to_string_lossy().into_owned();
    ok(&pg, h, &["init"], b"");
    ok(&pg, h, &["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &keyring], b"");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    ok(&pg, h, &["put", "acme", "big", "-l", "secret"], &big);
    ok(&pg, h, &["put", "acme", "small", "-l", "internal"], b"small item");
    let back = run(&pg, h, &["get", "acme", "big", "--keyring", &keyring, "-o", "-"], b"").stdout;
    assert!(back == big, "a large item (staged in batches) reads back whole from PostgreSQL");
    let verified = json(&ok(&pg, h, &["--json", "verify", "--keyring", &keyring], b""));
    assert_eq!(verified["decrypted"], 2, "{verified}");
    ok(&pg, h, &["audit", "verify", "--keyring", &keyring], b"");

    // PostgreSQL to a vault file: the same items and the same audit head.
    let file1 = h.join("pg.backup").to_string_lossy().into_owned();
    let backed = json(&ok(&pg, h, &["--json", "backup", &file1], b""));
    let disk = h.join("disk").to_string_lossy().into_owned();
    let restored = json(&ok(&disk, h, &["--json", "restore", &file1], b""));
    assert_eq!(restored["audit_head"], backed["audit_head"]);
    assert_eq!(items(&disk, h), items(&pg, h));
    assert!(run(&disk, h, &["get", "acme", "big", "--keyring", &keyring, "-o", "-"], b"").stdout == big);

    // And back, after work on the file: the same items and audit head in a second database.
    ok(&disk, h, &["put", "acme", "later", "-l", "internal"], b"written on the file");
    let file2 = h.join("disk.backup").to_string_lossy().into_owned();
    let backed = json(&ok(&disk, h, &["--json", "backup", &file2], b""));
    let restored = json(&ok(&pg2, h, &["--json", "restore", &file2], b""));
    assert_eq!(restored["audit_head"], backed["audit_head"]);
    assert_eq!(items(&pg2, h), items(&disk, h));
    assert_eq!(ok(&pg2, h, &["get", "acme", "later", "--keyring", &keyring], b""), "written on the file");
    ok(&pg2, h, &["audit", "verify", "--keyring", &keyring], b"");

    // A database that holds a vault takes no restore and no second init.
    assert_eq!(run(&pg2, h, &["restore", &file1], b"").status.code(), Some(6));
    assert_eq!(run(&pg, h, &["init"], b"").status.code(), Some(6));
    // Nothing to compact; a server needs its certificate given; a password never on argv.
    assert_eq!(run(&pg, h, &["compact"], b"").status.code(), Some(2));
    assert_eq!(run(&pg, h, &["serve", "--listen", "127.0.0.1:0"], b"").status.code(), Some(2));
    let out = run(&disk, h, &["--vault", &pg, "list", "acme"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PGPASSWORD"));
}

/// A database that cannot be reached (down, restarting) is a clear error to try again later
/// (exit 7), not a failure of the vault; this needs no PostgreSQL.
#[test]
fn an_unreachable_database_is_an_error_to_retry() {
    let home = tempfile::tempdir().unwrap();
    let out = run("postgres://nobody@127.0.0.1:1/vault", home.path(), &["list", "acme"], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains("cannot be reached") && err.contains("try again"), "{err}");
}

/// Several processes on one PostgreSQL vault at once, and two servers on it: every write
/// lands, the audit chain stays one verifiable line, and each server shows what the other
/// stored.
#[test]
fn many_processes_and_two_servers_share_one_postgres_vault() {
    let Some(db) = TestDatabase::new() else { return };
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let pg = db.url();
    let keyring = h.join("k").to_string_lossy().into_owned();
    ok(&pg, h, &["init"], b"");
    ok(&pg, h, &["tenant", "create", "acme", "--levels", "internal", "--keyring", &keyring], b"");
    std::thread::scope(|s| {
        for p in 0..4 {
            let (pg, h) = (&pg, h);
            s.spawn(move || {
                for i in 0..10 {
                    let body = format!("process {p} item {i}");
                    ok(pg, h, &["put", "acme", &format!("p{p}/i{i}"), "-l", "internal"], body.as_bytes());
                }
            });
        }
    });
    assert_eq!(items(&pg, h).len(), 40);
    ok(&pg, h, &["audit", "verify", "--keyring", &keyring], b"");

    // Two servers on the one vault (plain HTTP on loopback, as tests may).
    let serve = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(["serve", "--plain-http", "--listen", "127.0.0.1:0"])
            .env("LOCKBOX_VAULT", &pg)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        (child, line.trim().strip_prefix("listening on ").unwrap().to_owned())
    };
    let ((mut a, url_a), (mut b, url_b)) = (serve(), serve());
    let token = ok(&pg, h, &["token", "create", "-r", "writer", "-t", "acme"], b"").trim().to_owned();
    let client = |url: &str, args: &[&str], stdin: &[u8]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(["--server", url])
            .args(args)
            .env("LOCKBOX_TOKEN", &token)
            .env("LOCKBOX_TRUST", h.join("trust-remote"))
            .env("LOCKBOX_VAULT", h.join("none"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                std::io::Write::write_all(&mut c.stdin.take().unwrap(), stdin)?;
                c.wait_with_output()
            })
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = json(&ok(&pg, h, &["--json", "tenant", "show", "acme"], b""));
    let fingerprint = shown["signing_key_fingerprint"].as_str().unwrap().to_owned();
    for url in [&url_a, &url_b] {
        client(url, &["tenant", "trust", "acme", &fingerprint], b"");
    }
    std::thread::scope(|s| {
        for (n, url) in [&url_a, &url_b].into_iter().enumerate() {
            let client = &client;
            s.spawn(move || {
                for i in 0..10 {
                    client(
                        url,
                        &["put", "acme", &format!("server{n}/i{i}"), "-l", "internal"],
                        b"through a server",
                    );
                }
            });
        }
    });
    let listed_a = client(&url_a, &["list", "acme"], b"");
    assert!(listed_a.contains("server1/i9") && listed_a.contains("server0/i9"), "{listed_a}");
    let _ = (a.kill(), b.kill(), a.wait(), b.wait());
    assert_eq!(items(&pg, h).len(), 60);
    ok(&pg, h, &["audit", "verify", "--keyring", &keyring], b"");
}

/// A vault in `db` with tenant acme, a server on it, and a writer's token whose home has the
/// tenant pinned.
struct Served {
    home: tempfile::TempDir,
    pg: String,
    keyring: String,
    token: String,
    server: std::process::Child,
    url: String,
}

fn served(db: &TestDatabase) -> Served {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let pg = db.url();
    let keyring = h.join("k").to_string_lossy().into_owned();
    ok(&pg, h, &["init"], b"");
    ok(&pg, h, &["tenant", "create", "acme", "--levels", "internal", "--keyring", &keyring], b"");
    let token = ok(&pg, h, &["token", "create", "-r", "writer", "-t", "acme"], b"").trim().to_owned();
    let fingerprint =
        json(&ok(&pg, h, &["--json", "tenant", "show", "acme"], b""))["signing_key_fingerprint"]
            .as_str()
            .unwrap()
            .to_owned();
    let (server, url) = serve(&pg);
    assert!(remote(&url, &token, h, &["tenant", "trust", "acme", &fingerprint], b"").status.success());
    Served { home, pg, keyring, token, server, url }
}

/// Every acknowledged put reads back whole from the vault.
fn all_back_whole(pg: &str, h: &Path, keyring: &str, acked: &[(String, Vec<u8>)]) {
    for (item, body) in acked {
        let back = run(pg, h, &["get", "acme", item, "--keyring", keyring, "-o", "-"], b"");
        assert!(back.status.success(), "{item}: {}", String::from_utf8_lossy(&back.stderr));
        assert!(back.stdout == *body, "{item} came back whole");
    }
}

/// kill -9 of a server on PostgreSQL while four writers put through it: every put it
/// acknowledged is there and whole afterwards, and nothing is left half-staged.
#[test]
fn a_killed_server_on_postgres_loses_no_acknowledged_put() {
    let Some(db) = TestDatabase::new() else { return };
    let Served { home, pg, keyring, token, mut server, url } = served(&db);
    let h = home.path();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let acked = std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new());
    std::thread::scope(|scope| {
        for w in 0..4 {
            let (url, token, stop, acked) = (&url, &token, &stop, &acked);
            scope.spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let item = format!("w{w}/{i}");
                    // Some large enough to be staged in batches of their own.
                    let repeat = if i % 7 == 3 { 600_000 } else { 1 + i * 97 % 5000 };
                    let body: Vec<u8> = format!("{item} ").repeat(repeat).into_bytes();
                    let out = remote(url, token, h, &["put", "acme", &item, "-l", "internal"], &body);
                    if out.status.success() {
                        acked.lock().unwrap().push((item, body));
                    }
                }
            });
        }
        let started = std::time::Instant::now();
        while acked.lock().unwrap().len() < 20 && started.elapsed() < std::time::Duration::from_secs(60) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server.kill().unwrap();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let _ = server.wait();
    let acked = acked.into_inner().unwrap();
    assert!(acked.len() >= 20, "only {} puts were acknowledged", acked.len());
    all_back_whole(&pg, h, &keyring, &acked);
    // What the killed server was staging is counted as staging (swept once its claim
    // expires), never as damage.
    let v = json(&ok(&pg, h, &["--json", "verify"], b""));
    assert!(v["problems"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["items"].as_u64().unwrap() >= acked.len() as u64, "{v}");
}

/// The CA that signs the test server's certificate (`LOCKBOX_TEST_POSTGRES_CA`, made by
/// .ci/postgres with a role `lockbox_tls` that may connect only over TLS), or `None` (said)
/// outside CI.
fn test_ca() -> Option<String> {
    match std::env::var("LOCKBOX_TEST_POSTGRES_CA") {
        Ok(ca) => Some(ca),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI needs LOCKBOX_TEST_POSTGRES_CA (.ci/postgres)")
        }
        Err(_) => {
            eprintln!("note: PostgreSQL over TLS is not checked: LOCKBOX_TEST_POSTGRES_CA is not set");
            None
        }
    }
}

/// A vault reached over TLS: the certificate checked against the CA given (a CA of someone
/// else's is refused for good, exit 4, before any password is sent), the password from a file
/// only its owner can read. The role used may connect only over TLS, so the vault working at
/// all shows the connection was TLS.
#[test]
fn a_vault_over_tls_checks_the_database_certificate_and_reads_its_password_from_a_file() {
    let Some(db) = TestDatabase::new() else { return };
    let Some(ca) = test_ca() else { return };
    db.admin(&format!("ALTER DATABASE {} OWNER TO lockbox_tls", db.name()));
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let password_file = h.join("db-password");
    std::fs::write(&password_file, "lockbox\n").unwrap();
    std::fs::set_permissions(&password_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let base = format!("postgres://lockbox_tls@127.0.0.1:5432/{}", db.name());
    let tls = format!("{base}?sslmode=verify-full&sslrootcert={ca}");
    let with_file = |vault: &str, args: &[&str], stdin: &[u8]| {
        run_with(vault, h, args, stdin, |c| {
            c.env("LOCKBOX_DB_PASSWORD_FILE", &password_file).env_remove("PGPASSWORD");
        })
    };
    let keyring = h.join("k").to_string_lossy().into_owned();
    for args in [&["init"][..], &["tenant", "create", "acme", "--levels", "internal", "--keyring", &keyring]]
    {
        let out = with_file(&tls, args, b"");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(with_file(&tls, &["put", "acme", "a", "-l", "internal"], b"over TLS").status.success());
    let back = with_file(&tls, &["get", "acme", "a", "--keyring", &keyring], b"");
    assert_eq!(back.stdout, b"over TLS");

    // Plaintext to the same role is refused by the database: TLS is what made the above work.
    let plain = with_file(&format!("{base}?sslmode=disable"), &["list", "acme"], b"");
    assert_eq!(plain.status.code(), Some(4), "{}", String::from_utf8_lossy(&plain.stderr));
    // A CA that did not sign the database's certificate: refused, and said why.
    let other_ca = h.join("other-ca.pem");
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    std::fs::write(&other_ca, other.cert.pem()).unwrap();
    // `require` verifies too (unlike libpq's, which would encrypt to anyone in the path).
    for mode in ["verify-full", "require", "verify-ca"] {
        let out = with_file(
            &format!("{base}?sslmode={mode}&sslrootcert={}", other_ca.display()),
            &["list", "acme"],
            b"",
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{mode}: {err}");
        assert!(err.contains("certificate"), "{mode}: {err}");
    }
    // A password file others can read is refused, and so is a remote database in plaintext.
    std::fs::set_permissions(&password_file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = with_file(&tls, &["list", "acme"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("other users can read"), "{out:?}");
    assert_ne!(out.status.code(), Some(0));
    // Plaintext is refused to anywhere not known to be this machine, before connecting: a
    // remote host, a `hostaddr` that sends a "local" name elsewhere, no host at all.
    for url in [
        "postgres://lockbox@db.example/vault",
        "postgres://lockbox@localhost/vault?hostaddr=192.0.2.7",
        "postgres://lockbox@127.0.0.1/vault?host=db.example",
        "postgres:///vault?hostaddr=192.0.2.7",
    ] {
        let out = with_file(url, &["list", "acme"], b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("must be TLS"), "{url}: {err}");
    }
}

/// The database cut off under load, as a restart does (every connection ended, new ones
/// refused for a while), three times while four writers put through a server: each put either
/// succeeds or fails with the clear error to try again (exit 7), never another; every
/// acknowledged put is there whole; the vault verifies; and the server works again after,
/// without a restart of its own, even when it was idle through the last cut.
#[test]
fn a_database_cut_off_under_load_gives_try_again_and_no_damage() {
    let Some(db) = TestDatabase::new() else { return };
    let Served { home, pg, keyring, token, mut server, url } = served(&db);
    let h = home.path();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let acked = std::sync::Mutex::new(Vec::<(String, Vec<u8>)>::new());
    let refused = std::sync::Mutex::new(Vec::<String>::new());
    let acked_now = || acked.lock().unwrap().len();
    let wait_for = |n: usize| {
        let started = std::time::Instant::now();
        while acked_now() < n && started.elapsed() < std::time::Duration::from_secs(90) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    std::thread::scope(|scope| {
        for w in 0..4 {
            let (url, token, stop, acked, refused) = (&url, &token, &stop, &acked, &refused);
            scope.spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let item = format!("w{w}/{i}");
                    let repeat = if i % 7 == 3 { 300_000 } else { 1 + i * 97 % 5000 };
                    let body: Vec<u8> = format!("{item} ").repeat(repeat).into_bytes();
                    let out = remote(url, token, h, &["put", "acme", &item, "-l", "internal"], &body);
                    let err = String::from_utf8_lossy(&out.stderr).into_owned();
                    match out.status.code() {
                        Some(0) => acked.lock().unwrap().push((item, body)),
                        Some(7) if err.contains("try again") => refused.lock().unwrap().push(err),
                        code => panic!("{item}: exit {code:?}, not success or 'try again': {err}"),
                    }
                }
            });
        }
        for round in 1..=3 {
            wait_for(8 * round);
            // As a restart: no new connections for a moment, every open one ended.
            db.admin(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", db.name()));
            db.admin(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                db.name()
            ));
            std::thread::sleep(std::time::Duration::from_millis(400));
            db.admin(&format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", db.name()));
        }
        wait_for(8 * 3 + 8);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let acked = acked.into_inner().unwrap();
    assert!(acked.len() >= 32, "only {} puts were acknowledged", acked.len());
    assert!(!refused.lock().unwrap().is_empty(), "no put met the database cut off: the check saw nothing");
    // Cut off once more while the server is idle: its pooled connections are all dead, and
    // it finds out only on using them. It works on, without a restart of its own.
    db.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        db.name()
    ));
    let out = remote(&url, &token, h, &["put", "acme", "after", "-l", "internal"], b"after the storm");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = (server.kill(), server.wait());
    all_back_whole(&pg, h, &keyring, &acked);
    let v = json(&ok(&pg, h, &["--json", "verify"], b""));
    assert!(v["problems"].as_array().unwrap().is_empty(), "{v}");
    ok(&pg, h, &["audit", "verify", "--keyring", &keyring], b"");
}
