//! Crash consistency: run lockbox commands (puts small and large, replaces, removes, approvals,
//! rotations), one at a time and two at once, and kill them with SIGKILL at random moments, at
//! least 200 times (100 with two at once); after each kill, reopen and
//! check that acknowledged writes read back byte-identical, nothing torn is visible, the
//! keyring still opens, every registered public key has its private key, and (periodically and
//! at the end) that `verify` finds no damage or orphan and the audit chain verifies.
//!
//! Seeded and reproducible in its choices: LOCKBOX_CRASH_SEED (default 1) and
//! LOCKBOX_CRASH_KILLS (default 200). Where a kill lands in time still varies with the machine.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lockbox::keyring::{Keyring, Passphrase};
use lockbox::store::Reads;
use lockbox::vault::Vault;

#[path = "kit/mod.rs"]
mod kit;
use kit::{CHEAP, Rng};
use lockbox::lockbox::Workflow;

const ITEMS: [&str; 6] = ["a", "b", "c/d", "e", "f", "g"];
const LEVELS: [&str; 2] = ["internal", "secret"];

struct Harness {
    dir: PathBuf,
    /// Every state an item may be in: one once acknowledged, two after a killed write.
    states: BTreeMap<&'static str, Vec<Option<Vec<u8>>>>,
}

impl Harness {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lockbox"));
        cmd.args(args)
            .env("LOCKBOX_VAULT", self.dir.join("vault"))
            .env("LOCKBOX_TRUST", self.dir.join("trust"))
            .env("LOCKBOX_PASSPHRASE", "pw")
            .env("LOCKBOX_ACTOR", "alice")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }

    fn keyring(&self) -> String {
        self.dir.join("keyring").to_string_lossy().into_owned()
    }

    /// Runs a command to the end; panics unless it exits with one of `codes`.
    fn run(&self, args: &[&str], codes: &[i32]) -> i32 {
        let out = self.cmd(args).stdin(Stdio::null()).output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        assert!(codes.contains(&code), "{args:?} exited {code}: {}", String::from_utf8_lossy(&out.stderr));
        code
    }

    /// Reads an item back and narrows its possible states to what is actually there.
    fn check_item(&mut self, item: &'static str) {
        let out = self
            .cmd(&["get", "acme", item, "--keyring", &self.keyring()])
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        let seen = match out.status.code() {
            Some(0) => Some(out.stdout),
            Some(3) => None,
            other => panic!("get {item} exited {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        };
        let states = self.states.entry(item).or_insert_with(|| vec![None]);
        assert!(
            states.contains(&seen),
            "item {item}: found a state that was never written (torn or lost write)"
        );
        *states = vec![seen];
    }

    fn check_keys(&self) {
        let keyring = Keyring::open(&self.dir.join("keyring"), &Passphrase::new("pw".into()))
            .expect("the keyring survives a kill during its save");
        let vault = Vault::open(&self.dir.join("vault")).unwrap();
        for tenant in vault.tenants().unwrap() {
            for level in &tenant.levels {
                for epoch in &level.epochs {
                    let key = keyring.for_vault(vault.id()).key(&tenant.name, &level.name, epoch.epoch);
                    let key = key.unwrap_or_else(|| {
                        panic!(
                            "{}/{}@{} registered without its private key",
                            tenant.name, level.name, epoch.epoch
                        )
                    });
                    assert_eq!(key.public().0, epoch.public);
                }
            }
        }
    }

    fn check_all(&mut self) {
        for item in ITEMS {
            self.check_item(item);
        }
        self.check_keys();
        self.run(&["verify", "--keyring", &self.keyring()], &[0]);
        self.run(&["audit", "verify"], &[0]);
    }
}

fn spawn_with_input(mut cmd: Command, input: Vec<u8>) -> Child {
    let mut child = cmd.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    child
}

/// Waits up to `delay`, then kills the child if it is still running. Whether it finished
/// successfully (its write was acknowledged).
fn kill_after(mut child: Child, delay: Duration) -> (bool, bool) {
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        let _ = child.kill();
    }
    let status = child.wait().unwrap();
    (status.success(), killed && !status.success())
}

fn setup(dir: &Path) {
    // The CLI commands below pin against this file: the tenant's creator pins it.
    let pins = std::sync::Arc::new(lockbox::trust::Pins::open(&dir.join("trust")).unwrap());
    let vault = Vault::init(&dir.join("vault")).unwrap().with_pins(pins);
    let mut keyring = Keyring::create(&dir.join("keyring"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &LEVELS.map(String::from)).unwrap();
    Workflow::new(&vault)
        .enroll_engineer("eve", &dir.join("eve.id"), &Passphrase::new("pw".into()), CHEAP)
        .unwrap();
    // Every later command opens the vault itself.
    drop(vault);
    assert!(
        lockbox::store::RedbStore::open(&dir.join("vault").join(lockbox::vault::DB_FILE))
            .unwrap()
            .begin_raw_read()
            .unwrap()
            .tenant("acme")
            .unwrap()
            .is_some()
    );
}

/// A command of the harness, started: what it writes (an item and its new state), and how long
/// to let it run before the kill.
struct Started {
    child: Child,
    write: Option<(&'static str, Option<Vec<u8>>)>,
    delay: Duration,
    large: bool,
}

/// Starts one random command on an item of `items`: a put (small, or large enough to be stored
/// in staged groups), a remove, an approval or a rotation.
fn start(h: &Harness, rng: &mut Rng, items: &[&'static str]) -> Started {
    let delay = Duration::from_micros(rng.below(25_000));
    let item = items[rng.below(items.len() as u64) as usize];
    let keyring = h.keyring();
    let eve = h.dir.join("eve.id").to_string_lossy().into_owned();
    match rng.below(10) {
        0..=4 => {
            // One put in eight is large enough to be stored in staged groups (store::STAGE_BYTES)
            // before its record: a kill may land between them.
            let large = rng.below(8) == 0;
            let len = if large {
                lockbox::store::STAGE_BYTES + rng.below(2 * lockbox::store::STAGE_BYTES as u64) as usize
            } else {
                rng.below(400_000) as usize
            };
            let delay = if large { Duration::from_micros(rng.below(600_000)) } else { delay };
            let fill = rng.next() as u8;
            let data: Vec<u8> = (0..len).map(|i| fill.wrapping_add((i / 7) as u8)).collect();
            let level = LEVELS[rng.below(2) as usize];
            let child =
                spawn_with_input(h.cmd(&["put", "acme", item, "--level", level, "--replace"]), data.clone());
            Started { child, write: Some((item, Some(data))), delay, large }
        }
        5 | 6 => {
            let child = h.cmd(&["rm", "acme", item]).stdin(Stdio::null()).spawn().unwrap();
            Started { child, write: Some((item, None)), delay, large: false }
        }
        7 | 8 => {
            let out = h
                .cmd(&[
                    "request",
                    "create",
                    "--tenant",
                    "acme",
                    "--identity",
                    &eve,
                    "--levels",
                    "internal,secret",
                    "--reason",
                    "crash test",
                    "--case",
                    "c",
                    "--duration",
                    "1h",
                ])
                .stdout(Stdio::piped())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let out = String::from_utf8(out.stdout).unwrap();
            let mut lines = out.lines();
            let id = lines.next().unwrap_or_default().to_owned();
            let digest = lines.next().and_then(|l| l.strip_prefix("digest ")).unwrap_or_default().to_owned();
            let level = LEVELS[rng.below(2) as usize];
            let child = h
                .cmd(&[
                    "request",
                    "approve",
                    &id,
                    "--expect",
                    &digest,
                    "--levels",
                    level,
                    "--keyring",
                    &keyring,
                ])
                .stdin(Stdio::null())
                .spawn()
                .unwrap();
            Started { child, write: None, delay: delay + Duration::from_millis(15), large: false }
        }
        _ => {
            let level = LEVELS[rng.below(2) as usize];
            let mut args = vec!["level", "rotate", "acme", level, "--keyring", &keyring];
            if rng.below(2) == 0 {
                args.push("--rewrap");
            }
            let child = h.cmd(&args).stdin(Stdio::null()).spawn().unwrap();
            Started { child, write: None, delay: delay + Duration::from_millis(15), large: false }
        }
    }
}

/// Runs started commands side by side, each killed once its delay is up. Records what each
/// wrote; returns (acknowledged, killed, killed during a large put), and the items touched.
fn finish(h: &mut Harness, started: Vec<Started>) -> (u32, u32, u32, Vec<&'static str>) {
    let waits: Vec<_> = started
        .into_iter()
        .map(|s| {
            let (child, delay) = (s.child, s.delay);
            (std::thread::spawn(move || kill_after(child, delay)), s.write, s.large)
        })
        .collect();
    let (mut ok_count, mut kills, mut large_kills, mut touched) = (0, 0, 0, Vec::new());
    for (wait, write, large) in waits {
        let (ok, killed) = wait.join().unwrap();
        if let Some((item, state)) = write {
            let states = h.states.get_mut(item).unwrap();
            if ok {
                *states = vec![state];
            } else {
                states.push(state);
            }
            touched.push(item);
        }
        ok_count += u32::from(ok);
        kills += u32::from(killed);
        large_kills += u32::from(large && killed);
    }
    (ok_count, kills, large_kills, touched)
}

/// Kills commands at random moments, `writers` of them running side by side on items of their
/// own, until `wanted` kills landed; checks after each kill and every 40 rounds.
fn harness(writers: usize, wanted: u32) {
    let seed = std::env::var("LOCKBOX_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1u64);
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let mut h =
        Harness { dir: tmp.path().to_owned(), states: ITEMS.iter().map(|i| (*i, vec![None])).collect() };
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut kills, mut acknowledged, mut rounds, mut large_kills) = (0u32, 0u32, 0u32, 0u32);
    let started = Instant::now();
    // Each writer keeps to items of its own, so each item's possible states stay known.
    let share = ITEMS.len() / writers;
    while kills < wanted {
        rounds += 1;
        assert!(rounds < 20 * wanted, "too few kills landed: {kills} in {rounds} rounds");
        assert!(started.elapsed() < Duration::from_secs(600), "the harness is too slow: {kills} kills");
        let commands: Vec<Started> =
            (0..writers).map(|w| start(&h, &mut rng, &ITEMS[w * share..(w + 1) * share])).collect();
        let (ok, killed, large, touched) = finish(&mut h, commands);
        acknowledged += ok;
        kills += killed;
        large_kills += large;
        if killed > 0 {
            for item in touched {
                h.check_item(item);
            }
            h.check_keys();
        }
        if rounds % 40 == 0 {
            h.check_all();
        }
    }
    h.check_all();
    eprintln!(
        "crash harness (seed {seed}, {writers} writer(s) at once): {rounds} rounds, {kills} kills ({large_kills} during large puts), {acknowledged} acknowledged, {:?}",
        started.elapsed()
    );
}

fn wanted_kills() -> u32 {
    std::env::var("LOCKBOX_CRASH_KILLS").ok().and_then(|s| s.parse().ok()).unwrap_or(200)
}

#[test]
fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    harness(1, wanted_kills());
}

/// Two processes write at once (redb's multi-writer mode; the keyring's and the trust store's
/// locks), and kills land in either or both.
#[test]
fn kill_9_with_two_writers_at_once_loses_nothing_acknowledged() {
    harness(2, wanted_kills() / 2);
}
