//! Approval against the size of the tenant's audit log, every ratio measured in one run:
//!
//! ```sh
//! cargo bench --bench audit_log     # LOCKBOX_BENCH_LOG=1000,100000,1000000 (the default)
//! ```
//!
//! A keyring command checks the tenant's chain before it signs anything. It reads only the
//! entries after its last checkpoint, so an approval should cost the same at any log size; the
//! whole-chain check (`audit verify --keyring`) is timed beside it for contrast. The log is
//! grown with `get` entries of the tenant, appended straight through the store (as a busy
//! tenant's reads would log them), between measurements.

use std::path::Path;
use std::time::{Duration, Instant};

use lockbox::audit::{About, Event};
use lockbox::format::KdfParams;
use lockbox::keyring::{Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex};
use lockbox::store::{RedbStore, Store};
use lockbox::vault::Vault;

const KDF: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
const PASS: &str = "a bench passphrase";

/// Appends `n` `get` entries of tenant acme, 20,000 per transaction.
fn grow_log(vault_dir: &Path, n: u64) {
    let store = RedbStore::open(&vault_dir.join("vault.redb")).unwrap();
    let mut left = n;
    while left > 0 {
        let tx = store.begin_write().unwrap();
        for _ in 0..left.min(20_000) {
            let about = About { actor: "reader", tenant: "acme", subject: "doc" };
            let event = Event::Get { level: "internal".into(), key_epoch: 1 };
            lockbox::audit::append(&*tx, 1_800_000_000, about, event).unwrap();
        }
        tx.commit().unwrap();
        left = left.saturating_sub(20_000);
    }
}

/// One approval: a request filed, then approved by the customer (prepare and commit).
fn approve(vault: &Vault, keyring: &mut Keyring) -> Duration {
    let levels = vec!["internal".to_string()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "bench",
        case_id: "b",
        duration_secs: Some(60),
    };
    let id = id_hex(&lockbox::lockbox::Workflow::new(vault).create_request(&req).unwrap().id);
    let digest = lockbox::customer::shown_digest(vault, &id).unwrap();
    let confirmed = lockbox::customer::Confirmation::EngineersDigest(digest);
    let started = Instant::now();
    lockbox::customer::approve_request(vault, keyring, &id, None, None, confirmed).unwrap();
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are none to list here
    }
    let sizes: Vec<u64> = std::env::var("LOCKBOX_BENCH_LOG")
        .unwrap_or_else(|_| "1000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("LOCKBOX_BENCH_LOG: sizes separated by commas"))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vault");
    let pass = Passphrase::new(PASS.into());
    {
        let vault = Vault::init(&dir).unwrap();
        let mut keyring = Keyring::create(&tmp.path().join("keyring"), &pass, KDF).unwrap();
        lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into()]).unwrap();
        lockbox::lockbox::Workflow::new(&vault)
            .enroll_engineer("eve", &tmp.path().join("eve.id"), &pass, KDF)
            .unwrap();
    }
    let mut rows: Vec<(u64, Duration, Duration)> = Vec::new();
    let mut logged = 0;
    for &size in &sizes {
        grow_log(&dir, size.saturating_sub(logged));
        logged = logged.max(size);
        let mut vault = Vault::open(&dir).unwrap();
        vault.set_actor("alice");
        let mut keyring = Keyring::open(&tmp.path().join("keyring"), &pass).unwrap();
        // The first approval checks what was appended since the last checkpoint; the next ones
        // are what a customer approving again and again pays.
        approve(&vault, &mut keyring);
        let approval = (0..5).map(|_| approve(&vault, &mut keyring)).min().unwrap();
        let started = Instant::now();
        lockbox::customer::checked_entries(&vault, &mut keyring, "acme").unwrap();
        let whole = started.elapsed();
        eprintln!("{size} entries: approval {}, whole-chain check {}", ms(approval), ms(whole));
        rows.push((size, approval, whole));
    }
    let Some(&(base_size, base, _)) = rows.first() else { return };
    println!(
        "\n| logged entries | approval | baseline: approval at {base_size} | ratio | target | whole-chain check (contrast) |"
    );
    println!("|---|---|---|---|---|---|");
    for (size, approval, whole) in rows {
        let ratio = base.as_secs_f64() / approval.as_secs_f64();
        println!("| {size} | {} | {} | {ratio:.2} | ~1 (flat) | {} |", ms(approval), ms(base), ms(whole));
    }
}
