//! Stateful: random sequences of vault operations run against a real vault (on the in-memory store) and
//! against a small in-memory model; every outcome and the item listing must agree at every step.
#![no_main]
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use lockbox::format::KdfParams;
use lockbox::keyring::{Identity, Keyring, Passphrase};
use lockbox::lockbox::Workflow;
use lockbox::lockbox::{NewRequest, id_hex};
use lockbox::store::MemoryStore;
use lockbox::trust::{Pin, Pins};
use lockbox::vault::{ErrorKind, PutOptions, Threads, Vault};

const CHEAP: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };
const LEVELS: [&str; 3] = ["public", "internal", "secret"];
const ITEMS: [&str; 4] = ["a", "b", "dir/c", "d"];

/// The vault every input starts from (tenant "acme" with three levels, engineer "eve"
/// enrolled), the customer's keyring for it, and eve's identity: made once per process, so an
/// input pays for its own operations only. Each input works on a fork of the vault and a copy
/// of the keyring.
struct Start {
    store: MemoryStore,
    pin: Pin,
    keyring: Keyring,
    eve: Identity,
    _dir: tempfile::TempDir,
}

fn start() -> &'static Start {
    static START: OnceLock<Start> = OnceLock::new();
    START.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let eve = Identity::create(&dir.path().join("eve.id"), "eve", &Passphrase::new("pw".into()), CHEAP)
            .unwrap();
        let store = Arc::new(MemoryStore::new());
        let vault = Vault::on_memory(store.clone());
        // A keyring in memory: no Argon2, no file writes; everything else as a customer's.
        let mut keyring = Keyring::in_memory();
        let levels: Vec<String> = LEVELS.map(String::from).to_vec();
        lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &levels).unwrap();
        Workflow::new(&vault).enroll_engineer_key("eve", &eve).unwrap();
        let pin = vault.pins().lookup(vault.place(), &vault.id(), "acme").unwrap().unwrap();
        drop(vault);
        let store = Arc::into_inner(store).unwrap();
        Start { store, pin, keyring, eve, _dir: dir }
    })
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Pending,
    Approved,
    Denied,
}

#[derive(Default)]
struct Model {
    items: BTreeMap<&'static str, (usize, Vec<u8>, u32)>,
    epochs: [u32; 3],
    requests: Vec<(u8, State, String)>,
    grants: Vec<(Vec<(usize, u32)>, bool, String)>,
}

type Outcome = Result<Vec<u8>, ErrorKind>;

fn kind<T>(r: Result<T, lockbox::vault::Error>) -> Result<T, ErrorKind> {
    r.map_err(|e| e.kind)
}

fn levels_of(mask: u8) -> Vec<String> {
    (0..3).filter(|i| mask & (1 << i) != 0).map(|i| LEVELS[i].to_string()).collect()
}

fuzz_target!(|data: &[u8]| {
    // The in-memory engine: the same contract as the database file, without its fsyncs; one
    // thread, so an input runs the same way every time.
    let start = start();
    let vault = Vault::on_memory(Arc::new(start.store.fork())).with_threads(Threads::One);
    // The writer's pins as the creating machine left them (a copy: an input sees newer manifests).
    let pins = Pins::in_memory();
    pins.pin(vault.place(), &vault.id(), "acme", start.pin.fingerprint).unwrap();
    pins.saw(vault.place(), &vault.id(), "acme", start.pin.seen, start.pin.seen_hash).unwrap();
    let mut vault = vault.with_pins(Arc::new(pins));
    vault.set_actor("alice");
    let mut keyring = start.keyring.in_memory_copy().unwrap();
    let eve = &start.eve;
    let mut m = Model { epochs: [1; 3], ..Model::default() };

    for op in data.chunks_exact(3).take(40) {
        let (a, b) = (op[1] as usize, op[2]);
        let item = ITEMS[a % ITEMS.len()];
        let (expected, actual): (Outcome, Outcome) = match op[0] % 10 {
            code @ (0 | 1) => {
                let replace = code == 1;
                let level = b as usize % 3;
                let content = vec![b; a * 37];
                let opts = PutOptions { replace, chunk_size: 64 };
                let actual = kind(vault.put("acme", item, LEVELS[level], &mut Cursor::new(&content), opts))
                    .map(|_| vec![]);
                let expected = if m.items.contains_key(item) && !replace {
                    Err(ErrorKind::Conflict)
                } else {
                    m.items.insert(item, (level, content, m.epochs[level]));
                    Ok(vec![])
                };
                (expected, actual)
            }
            2 => {
                let expected = m.items.remove(item).map(|_| vec![]).ok_or(ErrorKind::NotFound);
                (expected, kind(vault.remove("acme", item)).map(|_| vec![]))
            }
            3 => {
                let mut out = Vec::new();
                let actual = kind(vault.get("acme", item, &keyring, &mut out)).map(|_| out);
                (m.items.get(item).map(|i| i.1.clone()).ok_or(ErrorKind::NotFound), actual)
            }
            4 => {
                let mask = (b % 7) + 1;
                let wanted = levels_of(mask);
                let req = NewRequest {
                    tenant: "acme",
                    engineer: "eve",
                    levels: &wanted,
                    reason: "r",
                    case_id: "c",
                    duration_secs: None,
                };
                let id = Workflow::new(&vault).create_request(&req).map(|r| id_hex(&r.id));
                let id = id.unwrap_or_else(|e| panic!("request: {e}"));
                m.requests.push((mask, State::Pending, id));
                continue;
            }
            5 => {
                let Some((mask, state, id)) = m.requests.get(a % m.requests.len().max(1)).cloned() else {
                    continue;
                };
                let subset = mask & b;
                let chosen = (subset != 0).then(|| levels_of(subset));
                let actual = kind(lockbox::customer::approve_request(
                    &vault,
                    &mut keyring,
                    &id,
                    chosen.as_deref(),
                    None,
                    lockbox::customer::Confirmation::EngineersDigest(
                        lockbox::customer::shown_digest(&vault, &id).unwrap_or([0; 32]),
                    ),
                ))
                .map(|g| id_hex(&g.id));
                let expected = if state != State::Pending {
                    Err(ErrorKind::Conflict)
                } else {
                    let released: Vec<usize> = (0..3)
                        .filter(|i| (if subset != 0 { subset } else { mask }) & (1 << i) != 0)
                        .collect();
                    let grant_id = actual.clone().unwrap_or_default();
                    m.grants.push((released.iter().map(|&l| (l, m.epochs[l])).collect(), false, grant_id));
                    for l in released {
                        m.epochs[l] += 1;
                    }
                    let n = m.requests.len();
                    m.requests[a % n].1 = State::Approved;
                    Ok(String::new())
                };
                (expected.map(|_| vec![]), actual.map(|_| vec![]))
            }
            6 => {
                let Some((_, state, id)) = m.requests.get(a % m.requests.len().max(1)).cloned() else {
                    continue;
                };
                let actual = kind(Workflow::new(&vault).deny_request(&id, None)).map(|_| vec![]);
                let expected = if state == State::Pending {
                    let n = m.requests.len();
                    m.requests[a % n].1 = State::Denied;
                    Ok(vec![])
                } else {
                    Err(ErrorKind::Conflict)
                };
                (expected, actual)
            }
            7 => {
                let n = m.grants.len();
                let Some((_, revoked, id)) = m.grants.get(a % n.max(1)).cloned() else { continue };
                let actual = kind(Workflow::new(&vault).revoke_grant(&id)).map(|_| vec![]);
                let expected = if revoked { Err(ErrorKind::Conflict) } else { Ok(vec![]) };
                m.grants[a % n].1 = true;
                (expected, actual)
            }
            8 => {
                let level = a % 3;
                let rewrap = b % 2 == 1;
                let actual = kind(lockbox::customer::rotate_level(
                    &vault,
                    &mut keyring,
                    "acme",
                    LEVELS[level],
                    rewrap,
                ))
                .map(|_| vec![]);
                m.epochs[level] += 1;
                if rewrap {
                    for it in m.items.values_mut().filter(|it| it.0 == level) {
                        it.2 = m.epochs[level];
                    }
                }
                (Ok(vec![]), actual)
            }
            _ => {
                let keys = Workflow::new(&vault).engineer_keys(eve, "acme").unwrap();
                let mut out = Vec::new();
                let actual = kind(vault.get("acme", item, &keys, &mut out)).map(|_| out);
                let expected = match m.items.get(item) {
                    None => Err(ErrorKind::NotFound),
                    Some((level, content, epoch)) => {
                        let covered = m.grants.iter().any(|(rel, revoked, _)| {
                            !revoked && rel.iter().any(|(l, e)| l == level && epoch <= e)
                        });
                        if covered { Ok(content.clone()) } else { Err(ErrorKind::AccessDenied) }
                    }
                };
                (expected, actual)
            }
        };
        assert_eq!(expected, actual, "op {:?}", op);
        let listed: Vec<(String, Option<String>, u64, u32)> = vault
            .list("acme", None)
            .unwrap()
            .into_iter()
            .map(|i| (i.item, i.level, i.size, i.key_epoch))
            .collect();
        let modelled: Vec<(String, Option<String>, u64, u32)> = m
            .items
            .iter()
            .map(|(id, (l, c, e))| (id.to_string(), Some(LEVELS[*l].to_string()), c.len() as u64, *e))
            .collect();
        assert_eq!(listed, modelled);
    }
});
