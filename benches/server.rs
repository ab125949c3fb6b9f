//! The server under N concurrent clients on loopback, against the same work done locally, all
//! in one run (docs/PERFORMANCE.md, "the server under load"):
//!
//! ```sh
//! cargo bench --bench server          # LOCKBOX_BENCH_CLIENTS=1,4,16  LOCKBOX_BENCH_SECS=4
//! ```
//!
//! 1. 1 KiB puts, each sealed on its client and sent over TLS (one durable commit per put):
//!    items per second, p50 and p99 latency; against puts through the library on the same
//!    disk from as many threads (what `lockbox put` does once started), against `lockbox
//!    import` of as many files (batched commits), and against raw redb inserts of 1 KiB, one
//!    durable transaction each, from as many threads;
//! 2. 1 KiB gets: the envelope through the server, decrypted on the client, against gets
//!    through the library;
//! 3. the server's peak resident memory under that load;
//! 4. a large item (LOCKBOX_BENCH_BIG_MB, default 256) through the server against local: put
//!    and get, LOCKBOX_BENCH_BIG_ROUNDS (default 5) of each, taking turns, medians compared.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lockbox::format::KdfParams;
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::vault::{PutOptions, TenantView, Vault};
use redb::TableDefinition;

const KDF: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
const PASS: &str = "a bench passphrase";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Latencies of one phase, and how long it ran.
struct Phase {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted
            .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    }
}

/// Runs `work(client, i)` on `clients` threads for `secs` seconds each.
fn phase(clients: usize, secs: u64, work: impl Fn(usize, usize) + Sync) -> Phase {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let latencies = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for c in 0..clients {
            let (work, latencies) = (&work, &latencies);
            scope.spawn(move || {
                let mut mine = Vec::new();
                let mut i = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    work(c, i);
                    mine.push(t.elapsed());
                    i += 1;
                }
                latencies.lock().unwrap().extend(mine);
            });
        }
    });
    Phase { latencies: latencies.into_inner().unwrap(), elapsed: started.elapsed() }
}

/// Accepts the server's self-signed certificate (the bench started it; the CLI pins it).
#[derive(Debug)]
struct AnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn client() -> reqwest::blocking::Client {
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert(provider)))
        .with_no_client_auth();
    reqwest::blocking::Client::builder().use_preconfigured_tls(config).no_proxy().build().unwrap()
}

fn lockbox(vault: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(args)
        .env("LOCKBOX_VAULT", vault)
        .env("LOCKBOX_TRUST", vault.with_extension("trust"))
        .env("LOCKBOX_PASSPHRASE", PASS)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "lockbox {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server {
    child: Child,
    url: String,
    pin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(vault: &Path) -> Server {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockbox"))
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "1000000"])
        .env("LOCKBOX_VAULT", vault)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap().strip_prefix("listening on ").unwrap().to_owned();
    let pin = lines.next().unwrap().unwrap().strip_prefix("pin ").unwrap().to_owned();
    Server { child, url, pin }
}

/// Peak resident memory of a process, KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clients: Vec<usize> = std::env::var("LOCKBOX_BENCH_CLIENTS")
        .unwrap_or_else(|_| "1,4,16".into())
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let secs = env_num("LOCKBOX_BENCH_SECS", 4);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vault_dir = dir.join("vault");
    let pins = lockbox::trust::Pins::open(&vault_dir.with_extension("trust")).unwrap();
    let vault = Vault::init(&vault_dir).unwrap().with_pins(Arc::new(pins));
    let keyring_path = dir.join("keyring");
    let mut keyring = Keyring::create(&keyring_path, &Passphrase::new(PASS.into()), KDF).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into()]).unwrap();
    let token =
        |role: &str| lockbox(&vault_dir, &["token", "create", "-r", role, "-t", "acme"]).trim().to_owned();
    let (writer, customer) = (token("writer"), token("customer"));
    let server = serve(&vault_dir);
    let http = client();
    let view: TenantView = http
        .get(format!("{}/v1/tenants/acme", server.url))
        .bearer_auth(&writer)
        .send()
        .unwrap()
        .json()
        .unwrap();
    // The writer pins the tenant's key as the customer gave it, bound to the server's URL.
    let place = format!("{}/", server.url);
    let remote_pins = lockbox::trust::Pins::in_memory();
    let record = vault.tenant("acme").unwrap();
    remote_pins
        .pin(place.as_bytes(), &vault.id(), "acme", lockbox::crypto::tenant_fingerprint(&record.signer))
        .unwrap();
    let sealer = Vault::of_view(&view, &place).unwrap().with_pins(Arc::new(remote_pins));
    let body: Vec<u8> = (0..1024u32).map(|i| i as u8).collect();

    println!("# lockbox server under load: 1 KiB items, {secs} s per phase, loopback TLS\n");
    println!("| clients | path | items/s | p50 | p99 | ratio to server |");
    println!("|---|---|---|---|---|---|");
    let mut last_server_put = 0.0;
    for &n in &clients {
        let clients_http: Vec<reqwest::blocking::Client> = (0..n).map(|_| client()).collect();
        let put = phase(n, secs, |c, i| {
            let mut envelope = Vec::with_capacity(2048);
            let item = format!("s{n}/c{c}/{i}");
            sealer.seal_to("acme", &item, "internal", None, &mut &body[..], &mut envelope).unwrap();
            let r = clients_http[c]
                .put(format!("{}/v1/tenants/acme/items/{item}", server.url))
                .bearer_auth(&writer)
                .body(envelope)
                .send()
                .unwrap();
            assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
        });
        let get = phase(n, secs, |c, i| {
            let item = format!("s{n}/c{c}/{}", i % 50);
            let r = clients_http[c]
                .get(format!("{}/v1/tenants/acme/items/{item}", server.url))
                .bearer_auth(&customer)
                .send()
                .unwrap();
            let envelope = r.bytes().unwrap();
            let mut out = Vec::new();
            lockbox::vault::open_envelope_of("acme", &item, &mut &envelope[..], &keyring, &mut out).unwrap();
        });
        let local = vault.clone();
        let local_put = phase(n, secs, |c, i| {
            let item = format!("l{n}/c{c}/{i}");
            local.put("acme", &item, "internal", &mut &body[..], PutOptions::default()).unwrap();
        });
        let local_get = phase(n, secs, |c, i| {
            let item = format!("l{n}/c{c}/{}", i % 50);
            local.get("acme", &item, &keyring, &mut Vec::new()).unwrap();
        });
        let raw = redb::Database::create(dir.join(format!("raw{n}.redb"))).unwrap();
        let table: TableDefinition<&str, &[u8]> = TableDefinition::new("raw");
        let raw_put = phase(n, secs, |c, i| {
            let tx = raw.begin_write().unwrap();
            tx.open_table(table).unwrap().insert(format!("c{c}/{i}").as_str(), &body[..]).unwrap();
            tx.commit().unwrap();
        });
        let base = put.rate();
        for (name, p) in [
            ("put through the server", &put),
            ("put through the library", &local_put),
            ("raw redb insert, one durable txn each", &raw_put),
            ("get through the server (+ decrypt)", &get),
            ("get through the library", &local_get),
        ] {
            println!(
                "| {n} | {name} | {:.0} | {} | {} | {:.2} |",
                p.rate(),
                ms(p.pct(0.5)),
                ms(p.pct(0.99)),
                p.rate() / base
            );
        }
        last_server_put = base;
    }
    // The local import path: as many files as the server put at the largest client count in
    // one phase, imported by one process.
    let count = (last_server_put * secs as f64).max(1000.0) as usize;
    let src = dir.join("import");
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..count {
        std::fs::write(src.join(format!("f{i:07}")), &body).unwrap();
    }
    let started = Instant::now();
    lockbox(&vault_dir, &["import", "acme", "--level", "internal", &src.to_string_lossy()]);
    let import = count as f64 / started.elapsed().as_secs_f64();
    println!(
        "\nlocal import of {count} files: {import:.0} items/s; server put at {} clients: {last_server_put:.0} items/s = {:.2} of import (target >= 0.5)",
        clients.last().unwrap_or(&0),
        last_server_put / import
    );
    // The same files imported through the server by one client (sealed there, sent in
    // batches of up to 256).
    let src2 = dir.join("import-remote");
    std::fs::create_dir_all(src2.join("r")).unwrap();
    for i in 0..count {
        std::fs::write(src2.join("r").join(format!("f{i:07}")), &body).unwrap();
    }
    let took = remote_cli(
        &server,
        dir,
        &writer,
        &["import", "acme", "--level", "internal", &src2.to_string_lossy()],
    );
    let remote_import = count as f64 / took.as_secs_f64();
    println!(
        "import of {count} files through the server, one client: {remote_import:.0} items/s = {:.2} of local import",
        remote_import / import
    );
    // Batches of 64 sealed items from each of 16 clients at once.
    let n = 16;
    let clients_http: Vec<reqwest::blocking::Client> = (0..n).map(|_| client()).collect();
    let batch_items = 256;
    let batches = phase(n, secs, |c, i| {
        // As `import --server` seals: one ephemeral key per batch.
        let batch_sealer = sealer.batch_sealer("acme", "internal").unwrap();
        let items: Vec<serde_json::Value> = (0..batch_items)
            .map(|j| {
                let item = format!("b/c{c}/{i}/{j}");
                let mut envelope = Vec::with_capacity(2048);
                batch_sealer.seal(&item, &mut &body[..], &mut envelope).unwrap();
                serde_json::json!({"item": item, "envelope": <base64ct::Base64 as base64ct::Encoding>::encode_string(&envelope)})
            })
            .collect();
        let r = clients_http[c]
            .post(format!("{}/v1/tenants/acme/batches/put", server.url))
            .bearer_auth(&writer)
            .json(&serde_json::json!({"items": items}))
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().unwrap_or_default());
    });
    let batched = batches.rate() * batch_items as f64;
    println!(
        "batches of {batch_items} from {n} clients through the server: {batched:.0} items/s (p99 per batch {}) = {:.2} of local import (target >= 0.5)",
        ms(batches.pct(0.99)),
        batched / import
    );
    println!("server peak resident memory: {} MiB", peak_kib(server.child.id()) / 1024);
    large(&vault_dir, &server, &writer, &customer, &keyring_path, dir);
}

/// Runs the CLI on a client machine of its own (a home under `dir`, the tenant's key pinned
/// there by the first call) through `server`; how long it took.
fn remote_cli(server: &Server, dir: &Path, token: &str, args: &[&str]) -> Duration {
    let home = dir.join("remote-home");
    let run = |args: &[&str]| {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_lockbox"))
            .args(["--server", &server.url, "--server-pin", &server.pin])
            .args(args)
            .env("LOCKBOX_TOKEN", token)
            .env("LOCKBOX_TRUST", home.join("trust"))
            .env("LOCKBOX_PASSPHRASE", PASS)
            .env("LOCKBOX_VAULT", home.join("none"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        started.elapsed()
    };
    if !home.exists() {
        std::fs::create_dir_all(&home).unwrap();
        let shown = lockbox(&dir.join("vault"), &["--json", "tenant", "show", "acme"]);
        let v: serde_json::Value = serde_json::from_str(&shown).unwrap();
        run(&["tenant", "trust", "acme", v["signing_key_fingerprint"].as_str().unwrap()]);
    }
    run(args)
}

/// A large item through the server (sealed and decrypted on the client) against local.
fn large(vault_dir: &Path, server: &Server, writer: &str, customer: &str, keyring: &Path, dir: &Path) {
    let mb = env_num("LOCKBOX_BENCH_BIG_MB", 256);
    let file = dir.join("big");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..mb {
            for b in block.chunks_mut(8) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b.copy_from_slice(&state.to_le_bytes()[..b.len()]);
            }
            std::io::Write::write_all(&mut f, &block).unwrap();
        }
    }
    let remote = |token: &str, args: &[&str]| remote_cli(server, dir, token, args);
    let (file_s, keyring_s) = (file.to_string_lossy(), keyring.to_string_lossy());
    let out: PathBuf = dir.join("out");
    let out_s = out.to_string_lossy();
    // Each timed run starts with nothing of an earlier one left to write back, and the two
    // paths take turns (ABBA: neither always runs second, into the other's write-back).
    let settle = || rustix::fs::syncfs(std::fs::File::open(dir).unwrap()).unwrap();
    let timed = |f: &dyn Fn()| {
        settle();
        let started = Instant::now();
        f();
        started.elapsed()
    };
    let rounds = env_num("LOCKBOX_BENCH_BIG_ROUNDS", 5).max(1) as usize;
    let (mut puts, mut gets) = ((Vec::new(), Vec::new()), (Vec::new(), Vec::new()));
    for round in 0..rounds {
        let (remote_id, local_id) = (format!("big-remote-{round}"), format!("big-local-{round}"));
        let remote_put = || {
            settle();
            remote(writer, &["put", "acme", &remote_id, "-l", "internal", "-f", &file_s])
        };
        let local_put = || {
            timed(&|| drop(lockbox(vault_dir, &["put", "acme", &local_id, "-l", "internal", "-f", &file_s])))
        };
        let get_args = |id: &str| -> Vec<String> {
            ["get", "acme", id, "--keyring", &keyring_s, "-o", &out_s, "--replace"]
                .map(str::to_owned)
                .to_vec()
        };
        let (remote_args, local_args) = (get_args(&remote_id), get_args(&local_id));
        let remote_get = || {
            settle();
            remote(customer, &remote_args.iter().map(String::as_str).collect::<Vec<_>>())
        };
        let local_get = || {
            timed(&|| drop(lockbox(vault_dir, &local_args.iter().map(String::as_str).collect::<Vec<_>>())))
        };
        if round % 2 == 0 {
            puts.0.push(remote_put());
            puts.1.push(local_put());
            gets.0.push(remote_get());
            gets.1.push(local_get());
        } else {
            puts.1.push(local_put());
            puts.0.push(remote_put());
            gets.1.push(local_get());
            gets.0.push(remote_get());
        }
    }
    let mbs = |d: Duration| mb as f64 / d.as_secs_f64();
    let median = |runs: &mut Vec<Duration>| {
        runs.sort();
        runs[runs.len() / 2]
    };
    let each =
        |runs: &[Duration]| runs.iter().map(|d| format!("{:.0}", mbs(*d))).collect::<Vec<_>>().join(", ");
    println!(
        "\n| {mb} MiB item, median of {rounds} (each run, MB/s) | through the server | local | ratio (local time / server time) |"
    );
    println!("|---|---|---|---|");
    for (name, (remote_runs, local_runs)) in [("put", &mut puts), ("get", &mut gets)] {
        let (r, l) = (median(remote_runs), median(local_runs));
        println!(
            "| {name} | {:.0} MB/s ({}) | {:.0} MB/s ({}) | {:.2} |",
            mbs(r),
            each(remote_runs),
            mbs(l),
            each(local_runs),
            l.as_secs_f64() / r.as_secs_f64()
        );
    }
}
