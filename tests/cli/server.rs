//! `lockbox serve` and `--server`: a real server process on an ephemeral loopback port, and
//! clients that share nothing with it but the URL, the pin and a token.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kit::cli::Env;

/// A running server: killed when dropped.
struct Server {
    child: Child,
    url: String,
    pin: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(env: &Env) -> Server {
        Server::start_with(env, &[])
    }

    fn start_with(env: &Env, flags: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
            .env("LOCKBOX_TRUST", env.dir.path().join("trust"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines.next().unwrap().unwrap().strip_prefix("listening on ").unwrap().to_owned();
        let pin = match url.starts_with("https:") {
            true => lines.next().unwrap().unwrap().strip_prefix("pin ").unwrap().to_owned(),
            false => String::new(),
        };
        let log = Arc::new(Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        Server { child, url, pin, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log has `n` request lines.
    fn requests(&self, n: usize) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.matches(" /v1/").count() >= n || started.elapsed() > Duration::from_secs(10) {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// One HTTP/1.1 request to a plain-HTTP server, as any program could send it: (status, body).
fn http(server: &Server, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = server.url.strip_prefix("http://").unwrap();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A client on another machine: no vault, no trust store of the server's, only what it is
/// given. Returns (exit code, stdout, stderr).
fn client(server: &Server, token: Option<&str>, args: &[&str], stdin: &[u8]) -> (i32, Vec<u8>, String) {
    client_at(&tempfile::tempdir().unwrap(), server, token, args, stdin)
}

/// [`client`] with a home of its own that lasts (its trust store, say).
fn client_at(
    home: &tempfile::TempDir,
    server: &Server,
    token: Option<&str>,
    args: &[&str],
    stdin: &[u8],
) -> (i32, Vec<u8>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockbox"));
    cmd.args(["--server", &server.url, "--server-pin", &server.pin])
        .args(args)
        .env("LOCKBOX_VAULT", home.path().join("no-vault-here"))
        .env("LOCKBOX_TRUST", home.path().join("trust"))
        .env("LOCKBOX_ACTOR", "client")
        .env("LOCKBOX_PASSPHRASE", crate::kit::cli::PASS)
        .env_remove("LOCKBOX_TOKEN")
        .env_remove("LOCKBOX_SERVER")
        .env_remove("LOCKBOX_SERVER_PIN")
        .current_dir(home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        cmd.env("LOCKBOX_TOKEN", token);
    }
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!home.path().join("no-vault-here").exists(), "the client made a vault");
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn setup() -> Env {
    let env = Env::empty();
    env.ok(&["init"], b"");
    env.ok(&["tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &env.path("k")], b"");
    env.ok(&["tenant", "create", "globex", "--levels", "internal", "--keyring", &env.path("g")], b"");
    env
}

fn token(env: &Env, role: &str, tenant: &str) -> String {
    env.ok(&["token", "create", "-r", role, "-t", tenant], b"").trim().to_owned()
}

#[test]
fn envelopes_go_through_a_pinned_server_and_tokens_decide_who() {
    let env = setup();
    let server = Server::start(&env);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let plain: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    // A writer's envelope (sealed here, on a machine that pinned the tenant), moved through
    // the server: the server never sees the plaintext.
    env.ok(&["put", "acme", "doc", "-l", "secret"], &plain);
    let envelope = env.run(&["get", "acme", "doc", "--raw", "-o", "-"], b"").stdout;
    env.ok(&["rm", "acme", "doc"], b"");
    let (writer, customer) = (token(&env, "writer", "acme"), token(&env, "customer", "acme"));
    let (code, out, err) = client(&server, Some(&writer), &["put", "acme", "doc", "--raw"], &envelope);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("through the server"));
    let (code, out, err) = client(&server, Some(&customer), &["--json", "list", "acme"], b"");
    assert_eq!(code, 0, "{err}");
    let listed: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(listed[0]["item"], "doc");
    let (code, out, err) = client(&server, Some(&customer), &["get", "acme", "doc", "--raw", "-o", "-"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out == envelope, "the envelope came back whole");
    // The customer's keyring opens what went through the server; the log names the token.
    let back = env.run(&["get", "acme", "doc", "--keyring", &env.path("k"), "-o", "-"], b"").stdout;
    assert!(back == plain, "the plaintext read back");
    let log = env.ok(&["audit", "show", "--tenant", "acme"], b"");
    assert!(log.contains(&format!("writer {}", &writer[4..20])), "{log}");

    // Who may not: no token, a bad one, another tenant's, a revoked one, the wrong role.
    let (code, _, err) = client(&server, None, &["list", "acme"], b"");
    assert!(code == 2 && err.contains("LOCKBOX_TOKEN"), "{code} {err}");
    let (code, _, err) = client(&server, Some("lbx_nope"), &["list", "acme"], b"");
    assert!(code == 4 && err.contains("not valid"), "{code} {err}");
    let other = token(&env, "customer", "globex");
    let (code, _, err) = client(&server, Some(&other), &["list", "acme"], b"");
    assert!(code == 4 && err.contains("globex"), "{code} {err}");
    let (code, _, err) = client(&server, Some(&writer), &["get", "acme", "doc", "--raw", "-o", "-"], b"");
    assert!(code == 4 && err.contains("writer token cannot"), "{code} {err}");
    env.ok(&["token", "revoke", &customer[4..20]], b"");
    let (code, _, err) = client(&server, Some(&customer), &["list", "acme"], b"");
    assert!(code == 4 && err.contains("revoked"), "{code} {err}");
    // Commands that act on the server's own vault say so, and send nothing.
    let (code, _, err) = client(&server, Some(&writer), &["tenant", "list"], b"");
    assert!(code == 2 && err.contains("without --server"), "{code} {err}");
    let (code, _, err) = client(&server, Some(&writer), &["backup", "b"], b"");
    assert!(code == 2 && err.contains("export"), "{code} {err}");
    // Nothing the server logged names a token or an item's content.
    let log = server.log();
    assert!(!log.contains(&writer[21..]) && !log.contains(&customer[21..]), "{log}");
}

#[test]
fn a_wrong_pin_is_refused_before_any_request_is_sent() {
    let env = setup();
    let server = Server::start(&env);
    let writer = token(&env, "writer", "acme");
    let wrong = "sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockbox"));
    let out = cmd
        .args(["--server", &server.url, "--server-pin", wrong, "list", "acme"])
        .env("LOCKBOX_TOKEN", &writer)
        .env("LOCKBOX_VAULT", env.dir.path().join("none"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("not the one pinned") && err.contains(&server.pin), "{err}");
    // The handshake failed; no request reached the server.
    std::thread::sleep(Duration::from_millis(300));
    let log = server.log();
    assert!(log.contains("TLS handshake") && !log.contains(" /v1/"), "{log}");
    // A pin that is not one, or none at all for https, is refused before connecting.
    for pins in [&["--server-pin", "sha256/short"][..], &[]] {
        let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(["--server", &server.url])
            .args(pins)
            .args(["list", "acme"])
            .env("LOCKBOX_TOKEN", &writer)
            .env_remove("LOCKBOX_SERVER_PIN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(!server.log().contains(" /v1/"));
    // The right pin works: the same server, the same token.
    let (code, _, err) = client(&server, Some(&writer), &["list", "acme"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(server.requests(1).contains("GET /v1/tenants/acme/items 200"));
}

#[test]
fn bad_bodies_get_clear_refusals_and_the_server_goes_on() {
    let env = setup();
    let server = Server::start(&env);
    let writer = token(&env, "writer", "acme");
    // Small bodies are read whole and grouped; the last one (over 256 KiB) streams and is
    // refused part-way, its rest drained so the client reads the answer.
    for body in [&b""[..], b"not an envelope", &[0xffu8; 70_000], &[0xffu8; 300_000]] {
        let (code, _, err) = client(&server, Some(&writer), &["put", "acme", "junk", "--raw"], body);
        assert!(code == 5 || code == 2, "exit {code}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = client(&server, Some(&writer), &["list", "acme"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(!server.log().contains("panicked"));
    // Plain HTTP is served on loopback only, and asked for by name.
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["serve", "--plain-http", "--listen", "0.0.0.0:0"])
        .env("LOCKBOX_VAULT", env.dir.path().join("vault"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn sigterm_stops_the_server_cleanly_and_the_pin_stays() {
    let env = setup();
    let first = Server::start(&env);
    let pin = first.pin.clone();
    let pid = first.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let mut first = first;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = first.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}: {}", first.log());
    assert!(first.log().contains("stopping"));
    // Started again on the same vault: the same certificate, so the same pin.
    let second = Server::start(&env);
    assert_eq!(second.pin, pin);
}

/// A writer on its own machine seals items itself: it pins the tenant's key as the server shows
/// it (bound to the server's address), checks the signed manifest against that pin, and sends
/// only the envelope. A pin that does not match stops it before anything is sent.
#[test]
fn a_remote_writer_seals_with_its_own_pins_and_the_customer_reads() {
    let env = setup();
    let server = Server::start(&env);
    let writer = token(&env, "writer", "acme");
    let fingerprint = {
        let shown = env.ok(&["--json", "tenant", "show", "acme"], b"");
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        v["signing_key_fingerprint"].as_str().unwrap().to_owned()
    };
    let home = tempfile::tempdir().unwrap();
    // Not pinned yet: refused, nothing stored.
    let (code, _, err) =
        client_at(&home, &server, Some(&writer), &["put", "acme", "a", "-l", "secret"], b"x");
    assert!(code == 4 && err.contains("not pinned"), "{code} {err}");
    let (code, _, err) =
        client_at(&home, &server, Some(&writer), &["tenant", "trust", "acme", &fingerprint], b"");
    assert_eq!(code, 0, "{err}");
    let plain: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let (code, out, err) =
        client_at(&home, &server, Some(&writer), &["put", "acme", "big", "-l", "secret"], &plain);
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("through the server"));
    let back = env.run(&["get", "acme", "big", "--keyring", &env.path("k"), "-o", "-"], b"").stdout;
    assert!(back == plain, "the customer reads what the remote writer sealed");
    // And from their own machine too: the envelope comes through the server, decrypted there.
    let customer = token(&env, "customer", "acme");
    let keyring = env.path("k");
    let (code, back, err) = client_at(
        &home,
        &server,
        Some(&customer),
        &["get", "acme", "big", "--keyring", &keyring, "-o", "-"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(back == plain, "the customer reads it through the server");

    // Another machine that pinned a different key (the operator swapped the tenant's, say)
    // refuses to seal, and sends no envelope.
    let wrong = tempfile::tempdir().unwrap();
    let other = "ab".repeat(32);
    let (code, _, err) = client_at(&wrong, &server, Some(&writer), &["tenant", "trust", "acme", &other], b"");
    assert!(code == 5 && err.contains("--replace"), "{code} {err}");
    let (code, _, err) =
        client_at(&wrong, &server, Some(&writer), &["tenant", "trust", "acme", &other, "--replace"], b"");
    assert_eq!(code, 0, "{err}");
    let puts_before = server.log().matches("PUT ").count();
    let (code, _, err) =
        client_at(&wrong, &server, Some(&writer), &["put", "acme", "c", "-l", "secret"], b"x");
    assert!(code == 5 && err.contains("not the pinned"), "{code} {err}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.log().matches("PUT ").count(), puts_before, "no envelope was sent");
}

/// A large item damaged where the server keeps it: a chunk cut short (the server finds it while
/// streaming, after earlier chunks went out, and cuts the body) or a chunk with a flipped bit
/// (the server streams it; the client's decryption finds it). Either way the customer's get
/// fails as an integrity failure and leaves no file behind, not even the chunks before.
#[test]
fn a_large_item_damaged_on_the_server_fails_whole_and_leaves_no_file() {
    use lockbox::store::{RedbStore, Store};
    let env = setup();
    let plain: Vec<u8> = (0..3_000_000u32).map(|i| (i * 13 % 251) as u8).collect();
    env.ok(&["put", "acme", "short-chunk", "-l", "secret"], &plain);
    env.ok(&["put", "acme", "flipped-bit", "-l", "secret"], &plain);
    {
        let store = RedbStore::open(&env.dir.path().join("vault").join(lockbox::vault::DB_FILE)).unwrap();
        let tx = store.begin_write().unwrap();
        for (item, index) in [("short-chunk", 20), ("flipped-bit", 30)] {
            let record = tx.item("acme", item).unwrap().unwrap();
            let mut chunk = tx.chunk(&record.blob, index).unwrap().unwrap();
            match item {
                "short-chunk" => chunk.truncate(chunk.len() - 1),
                _ => chunk[100] ^= 1,
            }
            tx.put_chunk(&record.blob, index, &chunk).unwrap();
        }
        tx.commit().unwrap();
    }
    let server = Server::start(&env);
    let customer = token(&env, "customer", "acme");
    let keyring = env.path("k");
    let home = tempfile::tempdir().unwrap();
    for item in ["short-chunk", "flipped-bit"] {
        let (code, _, err) = client_at(
            &home,
            &server,
            Some(&customer),
            &["get", "acme", item, "--keyring", &keyring, "-o", "out"],
            b"",
        );
        assert_eq!(code, 5, "{item}: {err}");
        assert!(err.contains(&format!("{item:?}")), "{item}: {err}");
        let left: Vec<_> = std::fs::read_dir(home.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(!home.path().join("out").exists(), "{item}: a file was left: {left:?}");
        assert!(
            left.iter().all(|n| !n.to_string_lossy().contains("out")),
            "{item}: a temp file was left: {left:?}"
        );
    }
    // The undamaged parts of the vault still serve: the server went on.
    env.ok(&["put", "acme", "whole", "-l", "secret"], b"still here");
    let (code, back, err) = client_at(
        &home,
        &server,
        Some(&customer),
        &["get", "acme", "whole", "--keyring", &keyring, "-o", "-"],
        b"",
    );
    assert!(code == 0 && back == b"still here", "{code} {err}");
}

/// A server that answers with another item's envelope (whole and genuine) is caught before
/// anything is written: the customer asked for one item and gets that one or an error. The
/// server here is the operator's own (plain HTTP on loopback, which a client allows unpinned).
#[test]
fn a_swapped_envelope_is_refused_by_the_reader() {
    use std::io::{Read, Write};
    let env = setup();
    env.ok(&["put", "acme", "two", "-l", "secret"], b"second item");
    let envelope = env.run(&["get", "acme", "two", "--raw", "-o", "-"], b"").stdout;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}");
    let fake = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = [0u8; 4096];
        let n = conn.read(&mut request).unwrap();
        let head =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", envelope.len());
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(&envelope).unwrap();
        String::from_utf8_lossy(&request[..n]).into_owned()
    });
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["--server", &url, "get", "acme", "one", "--keyring", &env.path("k"), "-o", "-"])
        .env("LOCKBOX_TOKEN", "lbx_anything")
        .env("LOCKBOX_PASSPHRASE", crate::kit::cli::PASS)
        .env("LOCKBOX_VAULT", env.dir.path().join("none"))
        .env_remove("LOCKBOX_SERVER_PIN")
        .output()
        .unwrap();
    // Had the client not come, this wakes the fake server, and the check below says so.
    let _ = std::net::TcpStream::connect(addr);
    let asked = fake.join().unwrap();
    assert!(asked.starts_with("GET /v1/tenants/acme/items/one "), "{asked}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err} / {:?}", String::from_utf8_lossy(&out.stdout));
    assert!(out.stdout.is_empty(), "nothing written");
    assert!(err.contains("got the envelope of item \"two\""), "{err}");
}

/// A customer creates their tenant from their own machine: the provider makes a token for a
/// tenant not created yet, the customer's `tenant create` through the server makes the keys
/// there and sends only public keys and the signed manifest. The keyring never exists on the
/// server's side; the same token then stands for the tenant; it creates nothing else.
#[test]
fn a_customer_creates_their_tenant_from_their_own_machine() {
    let env = Env::empty();
    env.ok(&["init"], b"");
    let onboard =
        env.ok(&["token", "create", "-r", "customer", "-t", "newco", "--new-tenant"], b"").trim().to_owned();
    // Only a customer token, and only for a tenant that is not there.
    let err = env.fails(&["token", "create", "-r", "writer", "-t", "newco", "--new-tenant"], 2);
    assert!(err.contains("only a customer token"), "{err}");
    // A second one, made before the tenant exists: left unbound by the creation.
    let spare =
        env.ok(&["token", "create", "-r", "customer", "-t", "newco", "--new-tenant"], b"").trim().to_owned();
    let server = Server::start(&env);
    let customer_home = tempfile::tempdir().unwrap();
    let create = |tenant: &str, keyring: &str| {
        client_at(
            &customer_home,
            &server,
            Some(&onboard),
            &["tenant", "create", tenant, "--levels", "internal,secret", "--keyring", keyring],
            b"",
        )
    };
    // Another tenant's name: refused before any key is made for it.
    let (code, _, err) = create("other", "other.keyring");
    assert!(code == 4 && err.contains("not \"other\""), "{code} {err}");
    assert!(!server.log().contains("create-tenant"), "nothing was sent");
    let (code, out, err) = create("newco", "newco.keyring");
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    let fingerprint = out.split("signing key ").nth(1).unwrap().split(':').next().unwrap().to_owned();
    assert!(customer_home.path().join("newco.keyring").exists());
    // The server's vault holds that tenant, under the key the customer's machine made.
    let shown = env.ok(&["--json", "tenant", "show", "newco"], b"");
    let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(v["signing_key_fingerprint"].as_str().unwrap(), fingerprint);
    // Once only; the other token made for it does not stand for it.
    let (code, _, err) = create("newco", "again.keyring");
    assert!(code == 6 && err.contains("already exists"), "{code} {err}");
    let (code, _, err) = client_at(&customer_home, &server, Some(&spare), &["tenant", "show", "newco"], b"");
    assert!(code == 4 && err.contains("exists now"), "{code} {err}");
    let err = env.fails(&["token", "create", "-r", "customer", "-t", "newco", "--new-tenant"], 6);
    assert!(err.contains("exists already"), "{err}");

    // The story goes on: a writer seals to the new tenant, the customer reads it back with the
    // keyring that never left their machine, through the same token.
    let writer = token(&env, "writer", "newco");
    let writer_home = tempfile::tempdir().unwrap();
    let (code, _, err) =
        client_at(&writer_home, &server, Some(&writer), &["tenant", "trust", "newco", &fingerprint], b"");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = client_at(
        &writer_home,
        &server,
        Some(&writer),
        &["put", "newco", "note", "-l", "secret"],
        b"first words",
    );
    assert_eq!(code, 0, "{err}");
    let (code, back, err) = client_at(
        &customer_home,
        &server,
        Some(&onboard),
        &["get", "newco", "note", "--keyring", "newco.keyring", "-o", "-"],
        b"",
    );
    assert!(code == 0 && back == b"first words", "{code} {err}");
    // No private key of the tenant is in any file on the server's side: its signing key's seed
    // and its level keys, read from the customer's keyring here; and nothing was kept in the
    // keyring for the tenant refused.
    drop(server);
    let vault_id = lockbox::vault::Vault::open(&env.dir.path().join("vault")).unwrap().id();
    let pass = lockbox::keyring::Passphrase::new(crate::kit::cli::PASS.into());
    let keyring =
        lockbox::keyring::Keyring::open(&customer_home.path().join("newco.keyring"), &pass).unwrap();
    let keys = keyring.for_vault(vault_id).tenant("newco").unwrap();
    let mut secrets = vec![keys.signing().seed().to_vec()];
    for level in ["internal", "secret"] {
        secrets.push(keys.key(level, 1).unwrap().to_bytes().to_vec());
    }
    let mut stack = vec![env.dir.path().to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            for secret in &secrets {
                assert!(
                    !bytes.windows(32).any(|w| w == &secret[..]),
                    "{} holds a private key",
                    path.display()
                );
            }
        }
    }
    assert!(!customer_home.path().join("other.keyring").exists(), "keys were saved for the refused tenant");
}

/// The whole story over HTTPS, each party on a machine of its own with only the URL, the pin,
/// its token and its own key file: a writer seals, an engineer enrolls and files a request,
/// the customer approves it from the engineer's digest, the engineer reads what was released
/// and nothing else, the customer checkpoints and verifies the log and revokes the grant.
/// Afterwards the server's files and log hold no plaintext and no private key.
#[test]
fn the_whole_story_runs_through_the_server() {
    let env = setup();
    let server = Server::start(&env);
    let (writer, customer) = (token(&env, "writer", "acme"), token(&env, "customer", "acme"));
    let eve =
        env.ok(&["token", "create", "-r", "engineer", "-t", "acme", "-e", "eve"], b"").trim().to_owned();
    let fingerprint = {
        let v: serde_json::Value =
            serde_json::from_str(&env.ok(&["--json", "tenant", "show", "acme"], b"")).unwrap();
        v["signing_key_fingerprint"].as_str().unwrap().to_owned()
    };
    let (writer_home, engineer_home, customer_home) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // The customer's keyring, made at onboarding, now lives on the customer's machine only.
    let keyring = customer_home.path().join("acme.k");
    std::fs::rename(env.path("k"), &keyring).unwrap();
    let keyring = keyring.to_str().unwrap().to_owned();
    let ok = |home: &tempfile::TempDir, token: &str, args: &[&str], stdin: &[u8]| {
        let (code, out, err) = client_at(home, &server, Some(token), args, stdin);
        assert_eq!(code, 0, "{args:?}: {err}");
        (String::from_utf8_lossy(&out).into_owned(), err)
    };
    let secret = b"the secret runbook: restart the frobnicator".to_vec();
    let internal = b"the internal note".to_vec();
    ok(&writer_home, &writer, &["tenant", "trust", "acme", &fingerprint], b"");
    ok(&writer_home, &writer, &["put", "acme", "runbook", "-l", "secret"], &secret);
    ok(&writer_home, &writer, &["put", "acme", "note", "-l", "internal"], &internal);

    // The engineer enrolls from their machine: the identity is saved there, only its public
    // key reaches the server.
    let identity = engineer_home.path().join("eve.id").to_str().unwrap().to_owned();
    ok(&engineer_home, &eve, &["engineer", "enroll", "eve", "--identity", &identity], b"");
    // The engineer pins the tenant too (given through the support case): grants are signed
    // with its key, and the engineer's client checks them.
    ok(&engineer_home, &eve, &["tenant", "trust", "acme", &fingerprint], b"");
    let (filed, _) = ok(
        &engineer_home,
        &eve,
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "-i",
            &identity,
            "--levels",
            "internal,secret",
            "--reason",
            "case 7",
            "--case",
            "7",
        ],
        b"",
    );
    let mut lines = filed.lines();
    let id = lines.next().unwrap().to_owned();
    let digest = lines.next().unwrap().strip_prefix("digest ").unwrap().to_owned();
    // Before any approval the engineer reads nothing.
    let (code, _, err) = client_at(
        &engineer_home,
        &server,
        Some(&eve),
        &["get", "acme", "note", "--identity", &identity, "-o", "-"],
        b"",
    );
    assert_eq!(code, 4, "{err}");

    // The customer sees the request and releases `internal` only, checked against the digest
    // the engineer gave through the support case.
    let (listed, _) = ok(&customer_home, &customer, &["request", "list"], b"");
    assert!(listed.contains(&id) && listed.contains("pending"), "{listed}");
    let (granted, _) = ok(
        &customer_home,
        &customer,
        &["request", "approve", &id, "--expect", &digest, "--levels", "internal", "-k", &keyring],
        b"",
    );
    let grant = granted.trim().to_owned();
    let (back, _) =
        ok(&engineer_home, &eve, &["get", "acme", "note", "--identity", &identity, "-o", "-"], b"");
    assert_eq!(back.as_bytes(), &internal[..], "the engineer reads what was released");
    let (code, _, err) = client_at(
        &engineer_home,
        &server,
        Some(&eve),
        &["get", "acme", "runbook", "--identity", &identity, "-o", "-"],
        b"",
    );
    assert_eq!(code, 4, "the secret level was not released: {err}");

    // The customer rotates a level, re-wrapping what it holds, and adds one, from their
    // machine; what was written before still opens with the keyring, through the server.
    let (rotated, _) = ok(
        &customer_home,
        &customer,
        &["level", "rotate", "acme", "secret", "-k", &keyring, "--rewrap"],
        b"",
    );
    assert!(rotated.contains("epoch 2") || rotated.contains("re-wrapped"), "{rotated}");
    ok(&customer_home, &customer, &["level", "add", "acme", "public", "-k", &keyring], b"");
    let (back, _) =
        ok(&customer_home, &customer, &["get", "acme", "runbook", "-k", &keyring, "-o", "-"], b"");
    assert_eq!(back.as_bytes(), &secret[..]);
    let (reencrypted, _) = ok(
        &customer_home,
        &customer,
        &["level", "rotate", "acme", "secret", "-k", &keyring, "--reencrypt"],
        b"",
    );
    assert!(reencrypted.contains("re-encrypted"), "{reencrypted}");
    let (back, _) =
        ok(&customer_home, &customer, &["get", "acme", "runbook", "-k", &keyring, "-o", "-"], b"");
    assert_eq!(back.as_bytes(), &secret[..], "the item reads the same after its re-encryption");

    // The customer checks the log from their machine, checkpoints it, and revokes the grant.
    let (checked, _) = ok(&customer_home, &customer, &["audit", "checkpoint", "acme", "-k", &keyring], b"");
    assert!(checked.contains("checkpointed"), "{checked}");
    let (verified, _) = ok(&customer_home, &customer, &["audit", "verify", "-k", &keyring], b"");
    assert!(verified.contains("chain intact"), "{verified}");
    let (shown, _) = ok(&customer_home, &customer, &["audit", "show"], b"");
    assert!(shown.contains("request-approve") || shown.contains("approve"), "{shown}");
    ok(&customer_home, &customer, &["grant", "revoke", &grant], b"");
    let (code, _, _) = client_at(
        &engineer_home,
        &server,
        Some(&eve),
        &["get", "acme", "note", "--identity", &identity, "-o", "-"],
        b"",
    );
    assert_eq!(code, 4, "a revoked grant opens nothing");
    // A checkpoint after more entries reads only what came after the last one: the state it
    // asks for starts past the first checkpoint's entries.
    let before = server.log().len();
    ok(&customer_home, &customer, &["audit", "checkpoint", "acme", "-k", &keyring], b"");
    let asked: Vec<u64> = server.log()[before..]
        .lines()
        .filter_map(|l| l.split("audit_from=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert!(!asked.is_empty() && asked.iter().all(|&from| from > 5), "{asked:?}: {}", server.log());

    // Roles hold: the writer cannot approve, the engineer cannot revoke, the customer cannot
    // file a request in the engineer's name.
    let (code, _, err) = client_at(&writer_home, &server, Some(&writer), &["grant", "revoke", &grant], b"");
    assert_eq!(code, 4, "{err}");
    let (code, _, err) = client_at(
        &customer_home,
        &server,
        Some(&customer),
        &[
            "request", "create", "--tenant", "acme", "-i", &identity, "--levels", "internal", "--reason",
            "r", "--case", "1",
        ],
        b"",
    );
    assert_eq!(code, 4, "{err}");

    // Nothing secret reached the server: no plaintext and no private key in its files or log.
    drop(server);
    let mut secrets: Vec<Vec<u8>> = vec![secret.clone(), internal.clone()];
    for file in [&identity, &keyring] {
        assert!(std::path::Path::new(file).exists());
        secrets.push(std::fs::read(file).unwrap()[..32].to_vec());
    }
    let mut stack = vec![env.dir.path().join("vault")];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            for s in &secrets[..2] {
                assert!(!bytes.windows(s.len()).any(|w| w == &s[..]), "{} holds plaintext", path.display());
            }
        }
    }
}

/// The commit endpoints as an attacker holding some valid token calls them directly: each
/// token acts only on its own tenant's requests and grants, an engineer's only in its own
/// name, a role only on its own operations; bad bodies are 400, oversized 413, unknown
/// operations 404; nothing panics and nothing changes.
#[test]
fn commits_hold_to_the_tokens_tenant_role_and_engineer() {
    let env = setup();
    let server = Server::start_with(&env, &["--plain-http"]);
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    env.ok(&["engineer", "enroll", "bob", "--identity", &env.path("bob.id")], b"");
    let filed = env.ok(
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "-i",
            &env.path("eve.id"),
            "--levels",
            "internal",
            "--reason",
            "r",
            "--case",
            "1",
        ],
        b"",
    );
    let acme_request = filed.lines().next().unwrap().to_owned();
    let globex_customer = token(&env, "customer", "globex");
    let eve =
        env.ok(&["token", "create", "-r", "engineer", "-t", "acme", "-e", "eve"], b"").trim().to_owned();
    let writer = token(&env, "writer", "acme");
    let commit = |token: &str, tenant: &str, op: &str, body: &str| {
        http(&server, "POST", &format!("/v1/tenants/{tenant}/commits/{op}"), Some(token), body.as_bytes())
    };
    let deny = format!(r#"{{"id":"{acme_request}","reason":null}}"#);
    // Another tenant's customer, naming its own tenant in the path: refused.
    let (status, body) = commit(&globex_customer, "globex", "deny", &deny);
    assert!(status == 403 && body.contains("not of tenant"), "{status} {body}");
    let (status, body) = commit(&globex_customer, "globex", "revoke", &deny);
    assert!(status == 404 || status == 403, "{status} {body}");
    // Naming the other tenant in the path: refused before anything is read.
    let (status, body) = commit(&globex_customer, "acme", "deny", &deny);
    assert!(status == 403 && body.contains("globex"), "{status} {body}");
    // An engineer's token files only in its own engineer's name.
    let as_bob = r#"{"engineer":"bob","levels":["internal"],"reason":"r","case_id":"1","duration_secs":null,"key":null}"#;
    let (status, body) = commit(&eve, "acme", "request", as_bob);
    assert!(status == 403 && body.contains("bob"), "{status} {body}");
    let enroll_bob = format!(r#"{{"engineer":"bob","public":{:?}}}"#, [7u8; 32]);
    let (status, body) = commit(&eve, "acme", "enroll", &enroll_bob);
    assert!(status == 403, "{status} {body}");
    // Roles: a writer approves nothing, an engineer denies nothing.
    let (status, body) = commit(&writer, "acme", "deny", &deny);
    assert!(status == 403 && body.contains("writer token cannot"), "{status} {body}");
    let (status, _) = commit(&eve, "acme", "deny", &deny);
    assert_eq!(status, 403);
    // Bodies: not JSON, the wrong shape, too large; an operation that does not exist.
    let customer = token(&env, "customer", "acme");
    for body in ["", "not json", "{}", r#"{"id":5}"#, r#"{"note":"not a signed note"}"#] {
        let (status, answer) = commit(&customer, "acme", "deny", body);
        assert!(status == 400 || status == 404, "{body:?}: {status} {answer}");
    }
    let (status, answer) = commit(&customer, "acme", "manifest", r#"{"note":"not a signed note"}"#);
    assert!(status == 400, "{status} {answer}");
    let (status, _) = commit(&customer, "acme", "deny", &"x".repeat(2 * 1024 * 1024));
    assert_eq!(status, 413);
    let (status, answer) =
        commit(&customer, "acme", "deny", &format!(r#"{{"id":"{}","reason":null}}"#, &acme_request[..8]));
    assert!(status == 400 && answer.contains("full id"), "{status} {answer}");
    let (status, _) = commit(&customer, "acme", "format-disk", "{}");
    assert_eq!(status, 404);
    // The state: not for a writer; an engineer's holds its own records and no audit entry.
    let (status, _) = http(&server, "GET", "/v1/tenants/acme/state?audit_from=1", Some(&writer), b"");
    assert_eq!(status, 403);
    let (status, state) =
        http(&server, "GET", "/v1/tenants/acme/state?audit_from=1&items=true", Some(&eve), b"");
    assert_eq!(status, 200, "{state}");
    let state: serde_json::Value = serde_json::from_str(&state).unwrap();
    let tables: Vec<&str> =
        state["rows"].as_array().unwrap().iter().map(|r| r[0].as_str().unwrap()).collect();
    assert_eq!(tables.iter().filter(|t| **t == "engineers").count(), 1, "{tables:?}");
    assert!(!tables.contains(&"audit") && !tables.contains(&"items"), "{tables:?}");
    // The request is still pending: nothing above changed it.
    let shown = env.ok(&["request", "show", &acme_request], b"");
    assert!(shown.contains("pending"), "{shown}");
    assert!(!server.log().contains("panicked"));
}

/// kill -9 of the server while four writers put through it: every put it acknowledged is in
/// the vault afterwards, whole and readable, and the vault opens and verifies clean.
#[test]
fn a_killed_server_loses_no_acknowledged_put() {
    let env = setup();
    let server = Server::start(&env);
    let pid = server.child.id().to_string();
    let writer = token(&env, "writer", "acme");
    let fingerprint = {
        let v: serde_json::Value =
            serde_json::from_str(&env.ok(&["--json", "tenant", "show", "acme"], b"")).unwrap();
        v["signing_key_fingerprint"].as_str().unwrap().to_owned()
    };
    let home = tempfile::tempdir().unwrap();
    let (code, _, err) =
        client_at(&home, &server, Some(&writer), &["tenant", "trust", "acme", &fingerprint], b"");
    assert_eq!(code, 0, "{err}");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let acked = Mutex::new(Vec::<(String, Vec<u8>)>::new());
    std::thread::scope(|scope| {
        for w in 0..4 {
            let (server, home, writer, stop, acked) = (&server, &home, &writer, &stop, &acked);
            scope.spawn(move || {
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let item = format!("w{w}/{i}");
                    let body: Vec<u8> = format!("{item} ").repeat(1 + i * 97 % 5000).into_bytes();
                    let (code, _, _) = client_at(
                        home,
                        server,
                        Some(writer),
                        &["put", "acme", &item, "-l", "internal"],
                        &body,
                    );
                    if code == 0 {
                        acked.lock().unwrap().push((item, body));
                    }
                }
            });
        }
        let started = Instant::now();
        while acked.lock().unwrap().len() < 20 && started.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    drop(server);
    let acked = acked.into_inner().unwrap();
    assert!(acked.len() >= 20, "only {} puts were acknowledged", acked.len());
    for (item, body) in &acked {
        let back = env.run(&["get", "acme", item, "--keyring", &env.path("k"), "-o", "-"], b"");
        assert!(back.status.success(), "{item}: {}", String::from_utf8_lossy(&back.stderr));
        assert!(back.stdout == *body, "{item} came back whole");
    }
    let verified = env.ok(&["--json", "verify"], b"");
    let v: serde_json::Value = serde_json::from_str(&verified).unwrap();
    assert!(v["problems"].as_array().unwrap().is_empty() && v["staging"] == 0, "{verified}");
    assert!(v["items"].as_u64().unwrap() >= acked.len() as u64, "{verified}");
}

/// A token that sends more than the rate limit gets 429 with Retry-After (another token is not
/// slowed); /metrics counts requests by route pattern, never by a tenant's or item's name.
#[test]
fn rate_limits_are_per_token_and_metrics_name_no_tenant() {
    let env = setup();
    let server = Server::start_with(&env, &["--plain-http", "--rate-limit", "1"]);
    let (writer, customer) = (token(&env, "writer", "acme"), token(&env, "customer", "acme"));
    let statuses: Vec<u16> =
        (0..14).map(|_| http(&server, "GET", "/v1/tenants/acme/items", Some(&writer), b"").0).collect();
    assert!(statuses[..10].iter().all(|&s| s == 200), "{statuses:?}");
    assert_eq!(statuses[13], 429, "{statuses:?}");
    let (status, body) = http(&server, "GET", "/v1/tenants/acme/items", Some(&customer), b"");
    assert_eq!(status, 200, "{body}");
    let (status, metrics) = http(&server, "GET", "/metrics", None, b"");
    assert_eq!(status, 200);
    assert!(metrics.contains(r#"route="/v1/tenants/{tenant}/items",status="429""#), "{metrics}");
    let refused = statuses.iter().filter(|&&s| s == 429).count();
    assert!(metrics.contains(&format!("lockbox_rate_limited_total {refused}")), "{metrics}");
    assert!(!metrics.contains("acme"), "{metrics}");
}

/// A request a receiver got: its headers (lower-case names) and body.
type Received = (std::collections::HashMap<String, String>, String);

/// A webhook receiver on loopback: records each request (headers, body); answers 500 to the
/// first one, then 200.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let Ok(k) = stream.read(&mut buf) else { break (String::new(), String::new()) };
                    if k == 0 {
                        break (String::new(), String::new());
                    }
                    data.extend_from_slice(&buf[..k]);
                    let text = String::from_utf8_lossy(&data).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                };
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                sink.lock().unwrap().push((headers, body));
                let status = if n == 0 { "500 Internal Server Error" } else { "200 OK" };
                let _ = stream.write_all(
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
                );
            }
        });
        Receiver { url, got }
    }

    /// Waits until notices of every kind in `kinds` arrived (delivered with 200).
    fn wait_for(&self, kinds: &[&str]) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            let all_kinds = kinds
                .iter()
                .all(|k| got.iter().skip(1).any(|(_, b)| b.contains(&format!("\"type\":\"{k}\""))));
            // And the notice refused first has come again.
            let retried = got
                .first()
                .is_some_and(|(h, _)| got[1..].iter().any(|(g, _)| g["webhook-id"] == h["webhook-id"]));
            if all_kinds && retried {
                return got;
            }
            assert!(started.elapsed() < Duration::from_secs(40), "waited for {kinds:?}; got {got:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The Standard Webhooks signature a receiver computes from the secret it was given.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &str) -> String {
    use base64ct::Encoding;
    use hmac::{KeyInit, Mac};
    let key = base64ct::Base64::decode_vec(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", base64ct::Base64::encode_string(&mac.finalize().into_bytes()))
}

/// Webhooks: every event of the story reaches the tenant's endpoint, signed with its secret
/// (Standard Webhooks), retried after a failure under the same id, carrying kinds and ids only;
/// another tenant's endpoint hears nothing; an endpoint on a loopback address the server was
/// not told to allow gets nothing, and the delivery log says why.
#[test]
fn webhooks_notify_signed_retried_and_only_ids() {
    let env = setup();
    let receiver = Receiver::start();
    let addr = receiver.url.strip_prefix("http://").unwrap().strip_suffix("/hook").unwrap().to_owned();
    let secret = env.ok(&["webhook", "add", "--tenant", "acme", &receiver.url], b"").trim().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let stranger = Receiver::start();
    env.ok(&["webhook", "add", "--tenant", "globex", &stranger.url], b"");
    // An https endpoint on a loopback address the server was not told to allow.
    let blocked = Receiver::start();
    env.ok(&["webhook", "add", "--tenant", "acme", &blocked.url.replace("http://", "https://")], b"");
    let server = Server::start_with(
        &env,
        &[
            "--webhook-allow",
            &addr,
            "--webhook-allow",
            &stranger.url[7..stranger.url.len() - 5],
            "--webhook-backoff",
            "1",
        ],
    );
    // The story, run against the vault file while the server runs: notices come from the log.
    env.ok(&["put", "acme", "doc", "-l", "internal"], b"the plaintext that must not leak");
    env.ok(&["engineer", "enroll", "eve", "--identity", &env.path("eve.id")], b"");
    let filed = env.ok(
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "-i",
            &env.path("eve.id"),
            "--levels",
            "internal",
            "--reason",
            "secret reason text",
            "--case",
            "qqcase",
        ],
        b"",
    );
    let mut lines = filed.lines();
    let (id, digest) = (lines.next().unwrap().to_owned(), lines.next().unwrap()[7..].to_owned());
    let grant = env
        .ok(&["request", "approve", &id, "--expect", &digest, "-k", &env.path("k")], b"")
        .trim()
        .to_owned();
    env.ok(&["get", "acme", "doc", "--identity", &env.path("eve.id"), "-o", "-"], b"");
    env.ok(&["grant", "revoke", &grant], b"");
    let other = env.ok(
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "-i",
            &env.path("eve.id"),
            "--levels",
            "internal",
            "--reason",
            "r",
            "--case",
            "78",
        ],
        b"",
    );
    env.ok(&["request", "deny", other.lines().next().unwrap()], b"");
    let got = receiver.wait_for(&[
        "request.created",
        "request.approved",
        "grant.used",
        "grant.revoked",
        "request.denied",
    ]);
    for (headers, body) in &got {
        let (id, ts, sig) =
            (&headers["webhook-id"], &headers["webhook-timestamp"], &headers["webhook-signature"]);
        assert_eq!(*sig, expected_signature(&secret, id, ts, body), "signed with the endpoint's secret");
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["data", "timestamp", "type"], "{body}");
        assert!(v["data"]["tenant"] == "acme", "{body}");
        for secret_text in ["plaintext", "secret reason", "qqcase", &env.path("eve.id")] {
            assert!(!body.contains(secret_text), "{body}");
        }
    }
    // The first attempt failed (500): the same notice came again, under the same id.
    let first = &got[0].0["webhook-id"];
    assert!(
        got[1..].iter().any(|(h, _)| h["webhook-id"] == *first),
        "the failed notice came again, under its id"
    );
    let used: Vec<&String> =
        got.iter().map(|(_, b)| b).filter(|b| b.contains("\"type\":\"grant.used\"")).collect();
    assert!(used.iter().all(|b| b.contains(&format!("\"grant\":\"{grant}\""))), "{used:?}");
    // Each notice was queued once: delivered ones are not sent again.
    let mut ids: Vec<&String> = got.iter().map(|(h, _)| &h["webhook-id"]).collect();
    ids.sort();
    let retried = ids.windows(2).filter(|w| w[0] == w[1]).count();
    assert_eq!(retried, 1, "only the notice that got a 500 came twice: {ids:?}");
    assert!(stranger.got.lock().unwrap().is_empty(), "globex's endpoint heard of acme");
    assert!(blocked.got.lock().unwrap().is_empty(), "a loopback endpoint not allowed was called");
    let log = env.ok(&["--json", "webhook", "deliveries", "--tenant", "acme"], b"");
    let log: serde_json::Value = serde_json::from_str(&log).unwrap();
    let refused =
        log.as_array().unwrap().iter().find(|d| d["last_outcome"].as_str().unwrap().contains("refused"));
    assert!(refused.is_some(), "{log}");
    assert!(log.as_array().unwrap().iter().any(|d| d["state"] == "delivered" && d["attempts"] == 2), "{log}");
    drop(server);
}

/// `demo --server` runs the story through a real server, each party apart: the engineer reads
/// what was released and is refused the rest; it leaves nothing behind.
#[test]
fn the_demo_runs_through_a_server() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["demo", "--server"])
        .env("TMPDIR", home.path())
        .env_remove("LOCKBOX_SERVER")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("\"Restart the primary with care.\""), "{text}");
    assert!(text.contains("keys/root.txt: refused: access denied"), "{text}");
    assert!(text.contains("checked and checkpointed"), "{text}");
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0, "the demo left files behind");
    // --server without a URL is the demo's alone.
    let out =
        Command::new(env!("CARGO_BIN_EXE_lockbox")).args(["list", "acme", "--server"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The OpenAPI document the server serves is the one kept in docs/openapi.json (regenerate it
/// with `lockbox serve --print-openapi > docs/openapi.json`), and it names every route.
#[test]
fn the_openapi_document_is_kept_in_docs() {
    let env = setup();
    let server = Server::start_with(&env, &["--plain-http"]);
    let (status, served) = http(&server, "GET", "/openapi.json", None, b"");
    assert_eq!(status, 200);
    let kept = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json")).unwrap();
    assert_eq!(served.trim(), kept.trim(), "docs/openapi.json is out of date");
    let doc: serde_json::Value = serde_json::from_str(&kept).unwrap();
    for path in [
        "/v1/whoami",
        "/v1/tenants/{tenant}/state",
        "/v1/tenants/{tenant}/commits/{op}",
        "/v1/tenants/{tenant}/items/{item}",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not in the document");
    }
}

/// A tenant's whole directory through the server, each party from its own machine: a writer
/// imports it (small files in batches, a large one streamed), the customer exports it back
/// and verifies every item, re-encrypts a level, and removes an item. The operator then
/// damages one stored chunk, and the customer's remote verify names that item.
#[test]
fn import_export_verify_reencrypt_and_rm_go_through_the_server() {
    let env = setup();
    let mut server = Server::start(&env);
    let (writer, customer) = (token(&env, "writer", "acme"), token(&env, "customer", "acme"));
    let fingerprint = {
        let shown = env.ok(&["--json", "tenant", "show", "acme"], b"");
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        v["signing_key_fingerprint"].as_str().unwrap().to_owned()
    };
    let (writer_home, customer_home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for home in [&writer_home, &customer_home] {
        let (code, _, err) =
            client_at(home, &server, Some(&writer), &["tenant", "trust", "acme", &fingerprint], b"");
        assert_eq!(code, 0, "{err}");
    }
    // 300 small files (more than one batch of 256) in two directories, and one of 300 KiB
    // (more than a batch takes: it streams alone).
    let src = writer_home.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..300 {
        let dir = if i % 2 == 0 { src.clone() } else { src.join("sub") };
        std::fs::write(dir.join(format!("f{i:03}")), format!("content of item {i}")).unwrap();
    }
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(src.join("big"), &big).unwrap();
    let src = src.to_str().unwrap().to_owned();
    let (code, out, err) = client_at(
        &writer_home,
        &server,
        Some(&writer),
        &["--json", "import", "acme", "-l", "secret", &src],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["items"], 301, "{report}");
    assert!(server.log().contains("/batches/put"), "small files went in batches");
    // Again without --replace: refused whole, nothing sent.
    let (code, _, err) =
        client_at(&writer_home, &server, Some(&writer), &["import", "acme", "-l", "secret", &src], b"");
    assert!(code == 6 && err.contains("nothing was imported"), "{code} {err}");
    // The writer's import is the customer's own data, read back locally as well.
    let back = env.ok(&["get", "acme", "sub/f001", "--keyring", &env.path("k")], b"");
    assert_eq!(back, "content of item 1");

    // The customer exports it all from their machine: every file, byte for byte.
    let keyring = env.path("k");
    let dest = customer_home.path().join("dest");
    let dest_arg = dest.to_str().unwrap().to_owned();
    let (code, _, err) = client_at(
        &customer_home,
        &server,
        Some(&customer),
        &["export", "acme", &dest_arg, "--keyring", &keyring],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(dest.join("big")).unwrap(), big);
    assert_eq!(std::fs::read_to_string(dest.join("sub/f299")).unwrap(), "content of item 299");
    assert_eq!(std::fs::read_dir(dest.join("sub")).unwrap().count(), 150);
    assert!(server.log().contains("/batches/get"), "small items came in batches");
    // The writer cannot read: refused by role.
    let (code, _, err) = client_at(
        &writer_home,
        &server,
        Some(&writer),
        &["export", "acme", "elsewhere", "--keyring", &keyring],
        b"",
    );
    assert!(code == 4, "{code} {err}");

    // Verify: every item decrypted on the customer's machine.
    let verify = ["--json", "verify", "--keyring", &keyring];
    let (code, out, err) = client_at(&customer_home, &server, Some(&customer), &verify, b"");
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!((report["items"].as_u64(), report["decrypted"].as_u64()), (Some(301), Some(301)), "{report}");

    // Re-encrypt the level through the server: every item under the new epoch, same content.
    let (code, out, err) = client_at(
        &customer_home,
        &server,
        Some(&customer),
        &["--json", "level", "rotate", "acme", "secret", "--keyring", &keyring, "--reencrypt"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let rotated: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(rotated["rewrapped"], 301, "{rotated}");
    let listed = env.ok(&["--json", "list", "acme"], b"");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert!(listed.iter().all(|i| i["epoch"] == rotated["epoch"]), "every item under the new epoch");
    assert_eq!(env.run(&["get", "acme", "big", "--keyring", &keyring, "-o", "-"], b"").stdout, big);

    // rm through the server: the writer removes one; a second time it is not there.
    let (code, _, err) = client_at(&writer_home, &server, Some(&writer), &["rm", "acme", "f000"], b"");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = client_at(&writer_home, &server, Some(&writer), &["rm", "acme", "f000"], b"");
    assert!(code == 3 && err.contains("no item"), "{code} {err}");
    // Another tenant's token removes nothing here.
    let other = token(&env, "writer", "globex");
    let (code, _, _) = client_at(&writer_home, &server, Some(&other), &["rm", "acme", "f002"], b"");
    assert_eq!(code, 4);

    // The operator flips a bit of one stored chunk: the customer's verify names that item.
    drop(server);
    {
        use lockbox::store::{RedbStore, Store};
        let store = RedbStore::open(&env.dir.path().join("vault").join(lockbox::vault::DB_FILE)).unwrap();
        let tx = store.begin_write().unwrap();
        // A small item's one chunk is kept in its record.
        let mut record = tx.item("acme", "f004").unwrap().unwrap();
        record.inline.as_mut().unwrap()[0] ^= 1;
        tx.put_item("acme", "f004", &record).unwrap();
        tx.commit().unwrap();
    }
    server = Server::start(&env);
    let (code, out, err) = client_at(&customer_home, &server, Some(&customer), &verify, b"");
    assert_eq!(code, 5, "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let problems = report["problems"].to_string();
    assert!(problems.contains("f004") && report["decrypted"] == 299, "{report}");
}

/// Batches and conditional replaces refuse what they must, as any HTTP client meets them: too
/// many envelopes, bad base64, a body over the limit, the wrong role, an `if_header` that is
/// not the stored version's. Nothing is stored by a refused batch.
#[test]
fn batches_and_conditional_puts_refuse_bad_requests() {
    let env = setup();
    let server = Server::start_with(&env, &["--plain-http"]);
    let (writer, customer) = (token(&env, "writer", "acme"), token(&env, "customer", "acme"));
    env.ok(&["put", "acme", "doc", "-l", "secret"], b"first");
    let envelope = env.run(&["get", "acme", "doc", "--raw", "-o", "-"], b"").stdout;
    let b64 = |bytes: &[u8]| {
        use base64ct::Encoding;
        base64ct::Base64::encode_string(bytes)
    };
    let batch = |items: Vec<serde_json::Value>| serde_json::json!({"items": items}).to_string().into_bytes();
    let put = "/v1/tenants/acme/batches/put";
    let many: Vec<_> =
        (0..257).map(|i| serde_json::json!({"item": format!("x{i}"), "envelope": ""})).collect();
    let (status, body) = http(&server, "POST", put, Some(&writer), &batch(many));
    assert!(status == 400 && body.contains("at most 256"), "{status} {body}");
    let bad = vec![serde_json::json!({"item": "x", "envelope": "not base64!"})];
    let (status, body) = http(&server, "POST", put, Some(&writer), &batch(bad));
    assert!(status == 400 && body.contains("base64"), "{status} {body}");
    let huge = vec![serde_json::json!({"item": "x", "envelope": "A".repeat(13 << 20)})];
    let (status, _) = http(&server, "POST", put, Some(&writer), &batch(huge));
    assert_eq!(status, 413);
    let (status, _) = http(&server, "POST", put, Some(&customer), &batch(vec![]));
    assert_eq!(status, 403, "a customer token does not write batches");
    let (status, _) = http(&server, "POST", "/v1/tenants/acme/batches/get", Some(&writer), b"{\"items\":[]}");
    assert_eq!(status, 403, "a writer token reads no envelopes");
    // One batch, two outcomes: the existing item refused (no replace), a moved envelope refused.
    let two = vec![
        serde_json::json!({"item": "doc", "envelope": b64(&envelope)}),
        serde_json::json!({"item": "other", "envelope": b64(&envelope)}),
    ];
    let (status, body) = http(&server, "POST", put, Some(&writer), &batch(two));
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(outcomes[0]["error"]["kind"], "conflict", "{body}");
    assert_eq!(outcomes[1]["error"]["kind"], "integrity", "{body}");
    assert!(!env.ok(&["list", "acme"], b"").contains("other"));
    // A conditional replace of a version that is not the stored one: refused, nothing changed.
    let path = format!("/v1/tenants/acme/items/doc?if_header={}", "00".repeat(32));
    let (status, body) = http(&server, "PUT", &path, Some(&writer), &envelope);
    assert!(status == 409 && body.contains("changed since it was read"), "{status} {body}");
    let (status, body) =
        http(&server, "PUT", "/v1/tenants/acme/items/doc?if_header=zz", Some(&writer), &envelope);
    assert!(status == 400 && body.contains("if_header"), "{status} {body}");
    assert_eq!(env.ok(&["get", "acme", "doc", "--keyring", &env.path("k")], b""), "first");
    assert!(!server.log().contains("panicked"));
}

/// A server that answers every item of a read batch with "access denied" (as if the
/// customer's keyring did not open them) does not make `verify` pass or `export` skip quietly:
/// each item it listed and withheld is a problem (exit 5). The lying server is a proxy in front
/// of a real one, rewriting only the batch answers.
#[test]
fn a_server_that_withholds_items_as_access_denied_fails_verify() {
    use std::io::{BufRead, Read, Write};
    let env = setup();
    let server = Server::start_with(&env, &["--plain-http"]);
    env.ok(&["put", "acme", "one", "-l", "secret"], b"first");
    env.ok(&["put", "acme", "two", "-l", "secret"], b"second");
    let customer = token(&env, "customer", "acme");
    let upstream = server.url.strip_prefix("http://").unwrap().to_owned();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let upstream = upstream.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if !line.to_ascii_lowercase().starts_with("connection:") {
                        head.push_str(&line);
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).unwrap();
                if head.contains("/batches/get ") {
                    let asked: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let lie: Vec<serde_json::Value> = asked["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|i| serde_json::json!({"item": i, "error": {"kind": "access_denied", "message": "not yours"}}))
                        .collect();
                    let lie = serde_json::to_vec(&lie).unwrap();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        lie.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).and_then(|()| conn.write_all(&lie));
                    return;
                }
                let mut up = std::net::TcpStream::connect(&upstream).unwrap();
                let _ = up.write_all(format!("{head}connection: close\r\n\r\n").as_bytes());
                let _ = up.write_all(&body);
                let _ = std::io::copy(&mut up, &mut conn);
            });
        }
    });
    let home = tempfile::tempdir().unwrap();
    let keyring = env.path("k");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(["--server", &proxy])
            .args(args)
            .env("LOCKBOX_TOKEN", &customer)
            .env("LOCKBOX_PASSPHRASE", crate::kit::cli::PASS)
            .env("LOCKBOX_TRUST", home.path().join("trust"))
            .env("LOCKBOX_VAULT", home.path().join("none"))
            .output()
            .unwrap()
    };
    let out = run(&["--json", "verify", "--keyring", &keyring]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["skipped"], 0, "{report}");
    let dest = home.path().join("dest").to_string_lossy().into_owned();
    let out = run(&["export", "acme", &dest, "--keyring", &keyring]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
}
