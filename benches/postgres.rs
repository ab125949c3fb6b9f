//! A vault in PostgreSQL against a vault file, in one run (docs/PERFORMANCE.md, Session 11):
//!
//! ```sh
//! LOCKBOX_BENCH_POSTGRES=postgres://USER:PASSWORD@HOST:PORT cargo bench --bench postgres
//! #   LOCKBOX_BENCH_ITEMS=100000  LOCKBOX_BENCH_BIG_MB=256  LOCKBOX_BENCH_SECS=4
//! ```
//!
//! The role must be able to create databases (each part gets its own, dropped after).
//! 1. `lockbox import` of ITEMS files of 1 KiB into each engine;
//! 2. 1 KiB puts, sealed on 16 clients and sent to two servers on one PostgreSQL vault (plain
//!    HTTP on loopback: the engines are compared, not TLS), against the same clients and one
//!    server on a vault file;
//! 3. a BIG_MB item put and got through the CLI on each engine, against raw inserts of the
//!    same bytes into PostgreSQL (64 KiB rows, transactions of STAGE_BYTES, as lockbox stages, no crypto).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockbox::vault::{TenantView, Vault};

const PASS: &str = "a bench passphrase";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A database of its own for one part of the bench, dropped after.
struct Db {
    base: String,
    name: String,
}

impl Db {
    fn new(base: &str, name: &str) -> Db {
        let db = Db { base: base.trim_end_matches('/').to_owned(), name: name.to_owned() };
        let mut admin = postgres::Client::connect(&format!("{}/postgres", db.base), postgres::NoTls).unwrap();
        // One statement each: neither may run inside a transaction block.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        db
    }

    fn url(&self) -> String {
        format!("{}/{}", self.base, self.name)
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&format!("{}/postgres", self.base), postgres::NoTls)
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// Runs the CLI on `vault` (in LOCKBOX_VAULT: a URL may hold a password); how long it took.
fn lockbox(vault: &str, dir: &Path, args: &[&str]) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(args)
        .env("LOCKBOX_VAULT", vault)
        .env("LOCKBOX_TRUST", dir.join("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "lockbox {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    started.elapsed()
}

fn output(vault: &str, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(args)
        .env("LOCKBOX_VAULT", vault)
        .env("LOCKBOX_TRUST", dir.join("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .output()
        .unwrap();
    assert!(out.status.success(), "lockbox {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A vault at `vault` with tenant acme (level internal) and a writer token.
fn setup(vault: &str, dir: &Path, keyring: &str) -> String {
    lockbox(vault, dir, &["init"]);
    lockbox(vault, dir, &["tenant", "create", "acme", "--levels", "internal", "--keyring", keyring]);
    output(vault, dir, &["token", "create", "-r", "writer", "-t", "acme"]).trim().to_owned()
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(vault: &str) -> Server {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["serve", "--plain-http", "--listen", "127.0.0.1:0", "--rate-limit", "1000000"])
        .env("LOCKBOX_VAULT", vault)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    Server(child, url)
}

/// 16 clients putting sealed 1 KiB items for `secs` seconds, spread over `servers`: items/s.
fn puts(vault: &str, servers: &[Server], token: &str, secs: u64) -> f64 {
    // reqwest wants a TLS provider even for plain HTTP.
    #[allow(deprecated)]
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::blocking::Client::builder().no_proxy().build().unwrap();
    let view: TenantView = http
        .get(format!("{}/v1/tenants/acme", servers[0].1))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let place = format!("{}/", servers[0].1);
    let pins = lockbox::trust::Pins::in_memory();
    let id: [u8; 16] = lockbox::format::hex_array("vault id", &view.vault).unwrap();
    pins.pin(place.as_bytes(), &id, "acme", lockbox::crypto::tenant_fingerprint(&view.record.signer))
        .unwrap();
    let sealer = Vault::of_view(&view, &place).unwrap().with_pins(Arc::new(pins));
    let body = vec![7u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(secs);
    let done = std::sync::atomic::AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..16 {
            let (sealer, body, done, http) = (&sealer, &body, &done, &http);
            let server = &servers[c % servers.len()].1;
            s.spawn(move || {
                let mut i = 0;
                while Instant::now() < deadline {
                    let item = format!("{vault_tag}/c{c}/{i}", vault_tag = vault.len());
                    let mut envelope = Vec::with_capacity(2048);
                    sealer.seal_to("acme", &item, "internal", None, &mut &body[..], &mut envelope).unwrap();
                    let r = http
                        .put(format!("{server}/v1/tenants/acme/items/{item}"))
                        .bearer_auth(token)
                        .body(envelope)
                        .send()
                        .unwrap();
                    assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += 1;
                }
            });
        }
    });
    done.into_inner() as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Ok(base) = std::env::var("LOCKBOX_BENCH_POSTGRES") else {
        eprintln!(
            "skipped: set LOCKBOX_BENCH_POSTGRES=postgres://USER:PASSWORD@HOST:PORT (a role that may create databases)"
        );
        return;
    };
    let items = env_num("LOCKBOX_BENCH_ITEMS", 100_000);
    let mb = env_num("LOCKBOX_BENCH_BIG_MB", 256);
    let secs = env_num("LOCKBOX_BENCH_SECS", 4);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..items {
        std::fs::write(src.join(format!("f{i:07}")), [(i % 251) as u8; 1024]).unwrap();
    }
    let db = Db::new(&base, "lockbox_bench_vault");
    let (pg, file) = (db.url(), dir.join("vault").to_string_lossy().into_owned());
    let keyring = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let pg_token = setup(&pg, dir, &keyring("k-pg"));
    let file_token = setup(&file, dir, &keyring("k-file"));
    let src_s = src.to_string_lossy().into_owned();

    println!("# a vault in PostgreSQL against a vault file (one run)\n");
    println!("| work | vault file (redb) | PostgreSQL | PostgreSQL / file |");
    println!("|---|---|---|---|");
    let rate = |d: Duration| items as f64 / d.as_secs_f64();
    let (f, p) = (
        rate(lockbox(&file, dir, &["import", "acme", "-l", "internal", &src_s])),
        rate(lockbox(&pg, dir, &["import", "acme", "-l", "internal", &src_s])),
    );
    println!("| import of {items} x 1 KiB, items/s | {f:.0} | {p:.0} | {:.2} |", p / f);

    let file_servers = [serve(&file)];
    let f = puts(&file, &file_servers, &file_token, secs);
    drop(file_servers);
    let pg_servers = [serve(&pg), serve(&pg)];
    let p = puts(&pg, &pg_servers, &pg_token, secs);
    drop(pg_servers);
    println!(
        "| 1 KiB puts from 16 clients (file: one server; PostgreSQL: two), items/s | {f:.0} | {p:.0} | {:.2} |",
        p / f
    );

    let big = dir.join("big");
    {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut data = Vec::with_capacity((mb << 20) as usize);
        while data.len() < (mb << 20) as usize {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            data.extend_from_slice(&state.to_le_bytes());
        }
        std::fs::write(&big, &data).unwrap();
    }
    let big_s = big.to_string_lossy().into_owned();
    let out = dir.join("out").to_string_lossy().into_owned();
    let mbs = |d: Duration| mb as f64 / d.as_secs_f64();
    let (f, p) = (
        mbs(lockbox(&file, dir, &["put", "acme", "big", "-l", "internal", "-f", &big_s])),
        mbs(lockbox(&pg, dir, &["put", "acme", "big", "-l", "internal", "-f", &big_s])),
    );
    println!("| put of a {mb} MiB item, MB/s | {f:.0} | {p:.0} | {:.2} |", p / f);
    let (kf, kp) = (keyring("k-file"), keyring("k-pg"));
    let (f, p) = (
        mbs(lockbox(&file, dir, &["get", "acme", "big", "--keyring", &kf, "-o", &out, "--replace"])),
        mbs(lockbox(&pg, dir, &["get", "acme", "big", "--keyring", &kp, "-o", &out, "--replace"])),
    );
    println!("| get of a {mb} MiB item, MB/s | {f:.0} | {p:.0} | {:.2} |", p / f);

    // The same bytes straight into PostgreSQL: 64 KiB rows, a transaction per STAGE_BYTES (as lockbox stages).
    let raw = Db::new(&base, "lockbox_bench_raw");
    let mut client = postgres::Client::connect(&raw.url(), postgres::NoTls).unwrap();
    client.batch_execute("CREATE TABLE chunks (k BYTEA PRIMARY KEY, v BYTEA NOT NULL)").unwrap();
    let data = std::fs::read(&big).unwrap();
    let started = Instant::now();
    for (t, group) in data.chunks(lockbox::store::STAGE_BYTES).enumerate() {
        let mut tx = client.transaction().unwrap();
        let insert = tx.prepare("INSERT INTO chunks (k, v) VALUES ($1, $2)").unwrap();
        for (i, chunk) in group.chunks(64 << 10).enumerate() {
            let key = ((t as u64) << 32 | i as u64).to_be_bytes();
            tx.execute(&insert, &[&&key[..], &chunk]).unwrap();
        }
        tx.commit().unwrap();
    }
    let r = mbs(started.elapsed());
    println!("| raw PostgreSQL inserts of the {mb} MiB (no crypto), MB/s | | {r:.0} | |");
    drop(client);
}
