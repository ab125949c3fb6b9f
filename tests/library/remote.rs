//! A vault handle on what a server showed (`Vault::mirror`), with a server that lies: what
//! the client does with each answer is checked against what it sent, and a write with no
//! commit step is refused by the copy instead of being kept in memory as if done.

use std::sync::{Arc, Mutex};

use lockbox::keyring::{Identity, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, Workflow};
use lockbox::store::MemoryStore;
use lockbox::vault::{Caller, Error, ErrorKind, Op, PutOptions, Upstream, Vault};

use crate::kit::CHEAP;

/// How a lying server changes an answer.
type Tamper = Box<dyn FnMut(Op, &mut serde_json::Value) + Send>;

/// A server that commits to the real vault as an honest one would, then lets `tamper`
/// change its answer; the copy is reloaded from the real vault after each commit.
struct Liar {
    name: &'static str,
    real: Vault,
    store: Arc<MemoryStore>,
    tamper: Mutex<Tamper>,
}

impl Upstream for Liar {
    fn commit(&self, tenant: &str, op: Op, body: serde_json::Value) -> Result<serde_json::Value, Error> {
        let flow = Workflow::new(&self.real);
        let mut answer = match op {
            Op::Enroll => {
                let b: lockbox::lockbox::EnrollBody = serde_json::from_value(body).unwrap();
                serde_json::to_value(flow.enroll_public(&b.engineer, &b.public)?).unwrap()
            }
            Op::Request => {
                let b: lockbox::lockbox::RequestBody = serde_json::from_value(body).unwrap();
                let key = b.key.unwrap();
                serde_json::to_value(flow.file_request(&b.request(tenant), &key)?).unwrap()
            }
            Op::Approve => {
                let a: lockbox::lockbox::Approval = serde_json::from_value(body).unwrap();
                serde_json::to_value(flow.commit_approval(&a)?).unwrap()
            }
            Op::Checkpoint => {
                let b: lockbox::vault::Note<String> = serde_json::from_value(body).unwrap();
                self.real.commit_checkpoint(tenant, &b.note)?;
                serde_json::Value::Null
            }
            Op::CreateTenant => {
                let b: lockbox::vault::TenantBody = serde_json::from_value(body).unwrap();
                serde_json::to_value(self.real.commit_tenant(
                    tenant,
                    &b.signer,
                    &b.levels,
                    &b.manifest,
                    None,
                )?)
                .unwrap()
            }
            other => panic!("not used here: {other:?}"),
        };
        (self.tamper.lock().unwrap())(op, &mut answer);
        self.store.reload(self.real.tenant_rows(tenant, 1, false, None, false)?);
        Ok(answer)
    }

    fn widen(&self, tenant: &str, from: u64, _: bool) -> Result<(), Error> {
        self.store.reload(self.real.tenant_rows(tenant, from, true, None, false)?);
        Ok(())
    }

    fn tenant(&self) -> String {
        self.name.into()
    }
}

fn setup(
    dir: &std::path::Path,
    tamper: impl FnMut(Op, &mut serde_json::Value) + Send + 'static,
) -> (Vault, Vault, Keyring, Arc<MemoryStore>) {
    let real = Vault::init(&dir.join("v")).unwrap().acting_as(Caller::new("customer"));
    let mut keyring = Keyring::create(&dir.join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&real, &mut keyring, "acme", &["internal".into()]).unwrap();
    lockbox::customer::create_tenant(&real, &mut keyring, "globex", &["internal".into()]).unwrap();
    let store = Arc::new(MemoryStore::mirror(real.tenant_rows("acme", 1, false, None, false).unwrap()));
    let liar =
        Liar { name: "acme", real: real.clone(), store: store.clone(), tamper: Mutex::new(Box::new(tamper)) };
    let copy = Vault::mirror(store.clone(), "https://server.example/", Arc::new(liar))
        .unwrap()
        .acting_as(Caller::new("customer"));
    (real, copy, keyring, store)
}

/// An enrollment answered with another key than the identity's is refused: its fingerprint is
/// what the engineer gives the customer to pin.
#[test]
fn an_enrollment_answered_with_another_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy, _, _) = setup(dir.path(), |op, answer| {
        if op == Op::Enroll {
            answer["public"] = serde_json::json!(vec![9u8; 32]);
        }
    });
    let pass = Passphrase::new("pw".into());
    let e =
        Workflow::new(&copy).enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
}

/// A request answered with other levels than were asked for is refused: the engineer's digest
/// would otherwise cover what the server chose.
#[test]
fn a_request_answered_with_other_levels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, copy, _, _) = setup(dir.path(), |op, answer| {
        if op == Op::Request {
            answer["levels"] = serde_json::json!(["internal", "secret"]);
        }
    });
    let pass = Passphrase::new("pw".into());
    Workflow::new(&copy).enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap();
    let eve = Identity::open(&dir.path().join("eve.id"), &pass).unwrap();
    let levels = ["internal".to_owned()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "1",
        duration_secs: None,
    };
    let e = Workflow::new(&copy).file_request(&req, &eve.secret.public().0).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
}

/// An approval answered with a grant of another tenant is refused, and the keyring records
/// nothing of it for that tenant (which would then look rolled back to the customer).
#[test]
fn an_approval_answered_with_another_tenants_grant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (real, copy, mut keyring, store) = setup(dir.path(), |op, answer| {
        if op == Op::Approve {
            answer["tenant"] = serde_json::json!("globex");
        }
    });
    let pass = Passphrase::new("pw".into());
    Workflow::new(&real).enroll_engineer("eve", &dir.path().join("eve.id"), &pass, CHEAP).unwrap();
    let eve = Identity::open(&dir.path().join("eve.id"), &pass).unwrap();
    let levels = ["internal".to_owned()];
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "1",
        duration_secs: None,
    };
    let r = Workflow::new(&real).file_request(&req, &eve.secret.public().0).unwrap();
    let digest = lockbox::lockbox::request_digest(&real.id(), &r, &eve.secret.public().0).unwrap();
    store.reload(real.tenant_rows("acme", 1, false, None, false).unwrap());
    let e = lockbox::customer::approve_request(
        &copy,
        &mut keyring,
        &lockbox::lockbox::id_hex(&r.id),
        None,
        None,
        lockbox::customer::Confirmation::EngineersDigest(digest),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
    // The keyring took nothing of globex's from the answer: its chain still checks.
    lockbox::customer::check_audit(&real, &mut keyring, "globex").unwrap();
}

/// A change with no commit step (a put) is refused by the copy: nothing looks done that the
/// server never saw.
#[test]
fn a_copy_refuses_writes_it_cannot_send() {
    let dir = tempfile::tempdir().unwrap();
    let (real, copy, _, _) = setup(dir.path(), |_, _| {});
    let record = real.tenant("acme").unwrap();
    copy.trust_tenant("acme", lockbox::crypto::tenant_fingerprint(&record.signer)).unwrap();
    let e = copy.put("acme", "doc", "internal", &mut &b"x"[..], PutOptions::default()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage, "{e}");
    assert!(real.list("acme", None).unwrap().is_empty());
}

/// Group commit: each envelope of a group gets its own outcome, checked as `put --raw` checks
/// it at commit; the good ones are stored and logged under their writers, the rest change
/// nothing: a malformed envelope, one naming another item, one wrapped to an epoch the level
/// left, and a second put of the same new item.
#[test]
fn a_group_stores_each_envelope_on_its_own_merits() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap().acting_as(Caller::new("customer"));
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into()]).unwrap();
    let envelope = |item: &str, body: &[u8]| {
        vault.put("acme", item, "internal", &mut &body[..], PutOptions::default()).unwrap();
        let mut out = Vec::new();
        vault.get_raw("acme", item, &mut out).unwrap();
        vault.remove("acme", item).unwrap();
        out
    };
    let (b, old) = (envelope("b", b"second"), envelope("old", b"stale"));
    // The level moves on: `b` and `old` are now wrapped to a released epoch.
    lockbox::customer::rotate_level(&vault, &mut keyring, "acme", "internal", false).unwrap();
    let (one, two) = (envelope("one", b"first"), envelope("two", b"second"));
    // One of many chunks: stored chunk by chunk, not inline.
    let long: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let many = {
        let opts = PutOptions { chunk_size: 1024, ..PutOptions::default() };
        vault.put("acme", "many", "internal", &mut &long[..], opts).unwrap();
        let mut out = Vec::new();
        vault.get_raw("acme", "many", &mut out).unwrap();
        vault.remove("acme", "many").unwrap();
        out
    };
    let put = |item: &str, envelope: &[u8], actor: &str| lockbox::vault::RawPut {
        tenant: "acme".into(),
        item: item.into(),
        envelope: envelope.to_vec(),
        replace: lockbox::vault::Replace::No,
        actor: actor.into(),
    };
    let group = [
        put("one", &one, "writer w1"),
        put("junk", b"not an envelope", "writer w2"),
        put("elsewhere", &two, "writer w3"),
        put("old", &old, "writer w4"),
        put("two", &two, "writer w5"),
        put("one", &one, "writer w6"),
        put("b", &b, "writer w7"),
        put("many", &many, "writer w8"),
    ];
    let results = vault.with_pins(vault.pins().clone()).put_raw_group(&group);
    let kinds: Vec<Option<ErrorKind>> = results.iter().map(|r| r.as_ref().err().map(|e| e.kind)).collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(ErrorKind::Integrity),
            Some(ErrorKind::Integrity),
            Some(ErrorKind::Integrity),
            None,
            Some(ErrorKind::Conflict),
            Some(ErrorKind::Integrity),
            None,
        ],
        "{results:?}"
    );
    let listed: Vec<String> = vault.list("acme", None).unwrap().into_iter().map(|i| i.item).collect();
    assert_eq!(listed, ["many", "one", "two"]);
    let mut back = Vec::new();
    vault.get("acme", "two", &keyring, &mut back).unwrap();
    assert_eq!(back, b"second");
    let mut back = Vec::new();
    vault.get("acme", "many", &keyring, &mut back).unwrap();
    assert!(back == long, "the many-chunk envelope reads back whole");
    let log = vault.audit_entries(Some("acme")).unwrap();
    let writers: Vec<&str> =
        log.iter().filter(|e| e.action() == "put.raw").map(|e| e.actor.as_str()).collect();
    assert_eq!(writers, ["writer w1", "writer w5", "writer w8"]);
}

/// A group of reads: each envelope as `get --raw` gives it, each read logged under its own
/// reader before any is returned; a large envelope is left to be read alone (and not logged),
/// a missing item gets its own error.
#[test]
fn a_group_of_reads_logs_each_read_under_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap().acting_as(Caller::new("admin"));
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into()]).unwrap();
    let vault = vault.with_pins(vault.pins().clone());
    vault.put("acme", "small", "internal", &mut &b"small item"[..], PutOptions::default()).unwrap();
    let big = vec![7u8; 300 * 1024];
    vault.put("acme", "big", "internal", &mut &big[..], PutOptions::default()).unwrap();
    let get = |item: &str, actor: &str| lockbox::vault::RawGet {
        tenant: "acme".into(),
        item: item.into(),
        actor: actor.into(),
    };
    let before = vault.audit_entries(Some("acme")).unwrap().len();
    let read = vault
        .get_raw_group(&[
            get("small", "customer c1"),
            get("big", "customer c2"),
            get("gone", "engineer e1"),
            get("small", "engineer e2"),
        ])
        .unwrap();
    let mut expected = Vec::new();
    vault.acting_as(Caller::new("x")).get_raw("acme", "small", &mut expected).unwrap();
    assert!(matches!(&read[0], Ok(Some(e)) if *e == expected), "the envelope as get --raw gives it");
    assert!(matches!(read[1], Ok(None)), "a large envelope is read alone");
    assert!(matches!(&read[2], Err(e) if e.kind == ErrorKind::NotFound));
    assert!(matches!(&read[3], Ok(Some(e)) if *e == expected));
    let log = vault.audit_entries(Some("acme")).unwrap();
    let readers: Vec<&str> =
        log[before..].iter().filter(|e| e.action() == "get.raw").map(|e| e.actor.as_str()).collect();
    assert_eq!(
        readers,
        ["customer c1", "engineer e2", "x"],
        "each read logged under its reader, the large one not"
    );
}

/// An envelope made as it is read opens to what went in; an input that fails part-way makes
/// it fail, and fail again if read on: it never ends as if the envelope were whole.
#[test]
fn a_sealing_reader_ends_only_with_its_last_chunk() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap().acting_as(Caller::new("admin"));
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into()]).unwrap();
    let vault = vault.with_pins(vault.pins().clone());
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 249) as u8).collect();
    let mut sealing = vault
        .sealing_reader("acme", "doc", "internal", Some(1024), Box::new(std::io::Cursor::new(plain.clone())))
        .unwrap();
    let mut envelope = Vec::new();
    // In small reads, as an upload takes it.
    let mut piece = [0u8; 777];
    loop {
        let n = sealing.read(&mut piece).unwrap();
        if n == 0 {
            break;
        }
        envelope.extend_from_slice(&piece[..n]);
    }
    let mut back = Vec::new();
    lockbox::vault::open_envelope_of("acme", "doc", &mut &envelope[..], &keyring, &mut back).unwrap();
    assert!(back == plain, "the envelope opens to what went in");

    /// Fails once after 5,000 bytes, then ends.
    struct Flaky(usize, bool);
    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0 >= 5000 {
                if !self.1 {
                    self.1 = true;
                    return Err(std::io::Error::other("disk went away"));
                }
                return Ok(0);
            }
            let n = buf.len().min(5000 - self.0);
            buf[..n].fill(1);
            self.0 += n;
            Ok(n)
        }
    }
    let mut sealing =
        vault.sealing_reader("acme", "doc", "internal", Some(1024), Box::new(Flaky(0, false))).unwrap();
    let failure = sealing.failure();
    let mut out = Vec::new();
    assert!(sealing.read_to_end(&mut out).is_err());
    assert!(sealing.read_to_end(&mut out).is_err(), "read on, it fails again: no end that passes for whole");
    assert!(failure.lock().unwrap().as_ref().is_some_and(|e| e.message.contains("disk went away")));
}

/// Webhooks: a rotated secret signs beside the new one while the overlap lasts; an unknown or
/// malformed id is refused; a removed webhook and a deleted tenant's webhooks are gone with
/// their delivery logs; a bad URL is refused before anything is stored.
#[test]
fn webhooks_rotate_remove_and_go_with_their_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::init(&dir.path().join("v")).unwrap().acting_as(Caller::new("admin"));
    let mut keyring = Keyring::create(&dir.path().join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    for t in ["acme", "globex"] {
        lockbox::customer::create_tenant(&vault, &mut keyring, t, &["internal".into()]).unwrap();
    }
    let flow = Workflow::new(&vault);
    for bad in ["ftp://x", "https://user@host/", "https://", "https://a b/"] {
        assert_eq!(flow.add_webhook("acme", bad).unwrap_err().kind, ErrorKind::Usage, "{bad}");
    }
    let (hook, first) = flow.add_webhook("acme", "https://hooks.example/a").unwrap();
    assert_eq!(format!("{first:?}"), "WebhookSecret(..)");
    let (other, _) = flow.add_webhook("globex", "https://hooks.example/g").unwrap();
    let (rotated, second) = flow.rotate_webhook(&hook.id).unwrap();
    assert!(rotated.previous_until.is_some() && first.expose() != second.expose());
    // A notice queued now is signed by both secrets.
    let levels = ["internal".to_owned()];
    Workflow::new(&vault)
        .enroll_engineer("eve", &dir.path().join("eve.id"), &Passphrase::new("pw".into()), CHEAP)
        .unwrap();
    let req = NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &levels,
        reason: "r",
        case_id: "1",
        duration_secs: None,
    };
    flow.create_request(&req).unwrap();
    assert_eq!(flow.queue_notices().unwrap(), 1);
    let due = flow.due_notices(10).unwrap();
    assert_eq!(due.len(), 1);
    let header = due[0].signature(1_000);
    let key = |s: &str| {
        use base64ct::Encoding;
        base64ct::Base64::decode_vec(s.strip_prefix("whsec_").unwrap()).unwrap()
    };
    let (k1, k2) = (key(first.expose()), key(second.expose()));
    let expected = lockbox::lockbox::signature(&[&k2, &k1], &due[0].id, 1_000, &due[0].body);
    assert_eq!(header, expected);
    assert_eq!(header.split(' ').count(), 2, "{header}");
    // Unknown and malformed ids.
    assert_eq!(flow.remove_webhook("00112233445566ff").unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(flow.rotate_webhook("not hex").unwrap_err().kind, ErrorKind::Usage);
    // Removed, with its log.
    flow.remove_webhook(&hook.id).unwrap();
    assert!(flow.deliveries(Some("acme")).unwrap().is_empty());
    assert_eq!(flow.webhooks(None).unwrap(), [other]);
    // globex deleted: its webhook goes too.
    lockbox::customer::delete_tenant(&vault, &mut keyring, "globex").unwrap();
    assert!(flow.webhooks(None).unwrap().is_empty());
}

/// A tenant's creation answered with another record than the one sent (another signing key,
/// level key, epoch, manifest or name) is refused: the customer's machine pins nothing of it, and says so.
#[test]
fn a_tenant_creation_answered_with_another_key_is_refused() {
    for field in ["signer", "levels", "epochs", "manifest", "name"] {
        let dir = tempfile::tempdir().unwrap();
        let tamper = |field: &'static str| {
            move |op: Op, answer: &mut serde_json::Value| {
                if op == Op::CreateTenant {
                    match field {
                        "signer" => answer["signer"] = serde_json::json!(vec![9u8; 32]),
                        "levels" => {
                            answer["levels"][0]["epochs"][0]["public"] = serde_json::json!(vec![9u8; 32])
                        }
                        "epochs" => {
                            let first = answer["levels"][0]["epochs"][0].clone();
                            answer["levels"][0]["epochs"].as_array_mut().unwrap().push(first);
                        }
                        "manifest" => answer["manifest"] = serde_json::json!("another manifest"),
                        _ => answer["name"] = serde_json::json!("acme"),
                    }
                }
            }
        };
        let (real, _, _, _) = setup(dir.path(), |_, _| {});
        // A copy of what a token made for tenant newco, not created yet, sees.
        let store = Arc::new(MemoryStore::mirror(real.tenant_rows("newco", 1, false, None, true).unwrap()));
        let liar = Liar {
            name: "newco",
            real: real.clone(),
            store: store.clone(),
            tamper: Mutex::new(Box::new(tamper(field))),
        };
        let pins = Arc::new(lockbox::trust::Pins::in_memory());
        let copy =
            Vault::mirror(store, "https://server.example/", Arc::new(liar)).unwrap().with_pins(pins.clone());
        let mut keyring =
            Keyring::create(&dir.path().join("new"), &Passphrase::new("pw".into()), CHEAP).unwrap();
        let e =
            lockbox::customer::create_tenant(&copy, &mut keyring, "newco", &["internal".into()]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity, "{field}: {e}");
        // The server did store the tenant (it lies only in its answer); this machine did not
        // take the answer for its tenant.
        assert!(real.tenant("newco").is_ok());
        assert!(pins.lookup(copy.place(), &copy.id(), "newco").unwrap().is_none(), "{field}: pinned");
    }
}
