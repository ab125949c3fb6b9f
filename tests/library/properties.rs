//! Property tests: every codec round-trips, decoders never panic on arbitrary bytes, and
//! encryption round-trips across sizes and chunk sizes.

use std::io::Cursor;

use lockbox::audit::Entry;
use lockbox::crypto::{SecretKey, Unwrapper};
use lockbox::format::{
    GrantKeyBlob, GrantKeyContext, Header, IdentityBody, KdfParams, KeyFile, KeyFileKind, KeyState,
    KeyringBody, KeyringKey, KeyringTenant, ManifestMark,
};
use lockbox::store::codec;
use lockbox::store::records::{Decision, GrantRecord, ItemRecord, RequestRecord, TenantRecord};
use lockbox::vault::{Error, ItemFields, LevelKeys, open_envelope, seal_envelope};
use proptest::prelude::*;
use zeroize::Zeroizing;

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,62}"
}

fn item_id() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,40}".prop_filter("at most 1024 bytes", |s| s.len() <= 1024)
}

prop_compose! {
    fn header()(chunk_size in 16u32..=16 << 20, epoch in 1u32..1000, extra in 0u32..5,
                tenant in name(), level in name(), item in item_id(),
                nonce in any::<[u8; 32]>(), fingerprint in any::<[u8; 16]>(),
                ephemeral in any::<[u8; 32]>().prop_filter("not zero", |e| *e != [0; 32]),
                wrapped in proptest::collection::vec(any::<u8>(), 48), commitment in any::<[u8; 32]>()) -> Header {
        Header { chunk_size, epoch, key_epoch: epoch + extra, tenant, level, item, nonce, fingerprint, ephemeral,
                 wrapped_dek: wrapped.try_into().unwrap(), commitment }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn headers_round_trip(h in header()) {
        let bytes = h.encode().unwrap();
        prop_assert_eq!(Header::declared_len(&bytes[..184]).unwrap(), bytes.len());
        prop_assert_eq!(Header::decode(&bytes).unwrap(), h);
    }

    #[test]
    fn grant_blobs_round_trip(grant_id in any::<[u8; 16]>(), tenant in name(), level in name(), engineer in name(),
                              epoch in 1u32.., expires in any::<u64>(), fps in any::<[u8; 32]>(),
                              ephemeral in any::<[u8; 32]>().prop_filter("not zero", |e| *e != [0; 32]),
                              wrapped in proptest::collection::vec(any::<u8>(), 48)) {
        let context = GrantKeyContext { grant_id, tenant, level, epoch, engineer, expires,
            engineer_fingerprint: fps[..16].try_into().unwrap(), level_fingerprint: fps[16..].try_into().unwrap() };
        let blob = GrantKeyBlob { context, ephemeral, wrapped: wrapped.try_into().unwrap() };
        prop_assert_eq!(GrantKeyBlob::decode(&blob.encode().unwrap()).unwrap(), blob);
    }

    #[test]
    fn key_files_and_bodies_round_trip(memory in 8192u32..=1 << 20, iterations in 1u32..=16, lanes in 1u32..=8,
                                       salt in any::<[u8; 16]>(), nonce in any::<[u8; 12]>(),
                                       ct in proptest::collection::vec(any::<u8>(), 16..200),
                                       mut keys in proptest::collection::btree_set((name(), name(), 1u32..9), 0..20),
                                       engineer in name(), secret in any::<[u8; 32]>()) {
        let file = KeyFile { version: KeyFile::VERSION, kind: KeyFileKind::Keyring, kdf: KdfParams { memory_kib: memory, iterations, lanes }, salt, nonce, ciphertext: ct };
        prop_assert_eq!(KeyFile::decode(&file.encode()).unwrap(), file);
        let mut tenants: Vec<KeyringTenant> = Vec::new();
        for (tenant, level, epoch) in std::mem::take(&mut keys) {
            if tenants.last().is_none_or(|t| t.tenant != tenant) {
                tenants.push(KeyringTenant { vault: secret[..16].try_into().unwrap(), tenant, signing_seed: Zeroizing::new(secret),
                    last: ManifestMark { seq: u64::from(epoch), hash: [epoch as u8; 32] }, proposed: ManifestMark::default(), checkpoint: ManifestMark::default(),
                    keys: Vec::new(), engineers: vec![(engineer.clone(), secret)] });
            }
            let state = [KeyState::Pending, KeyState::Registered, KeyState::Released][epoch as usize % 3];
            tenants.last_mut().unwrap().keys.push(KeyringKey { level, epoch, state, secret: Zeroizing::new(secret) });
        }
        let body = KeyringBody { tenants };
        prop_assert_eq!(KeyringBody::decode(&body.encode().unwrap()).unwrap(), body);
        let id = IdentityBody { engineer, secret: Zeroizing::new(secret) };
        prop_assert_eq!(IdentityBody::decode(&id.encode().unwrap()).unwrap(), id);
    }

    #[test]
    fn records_round_trip(s in "\\PC{0,40}", n in any::<u64>(), id in any::<[u8; 16]>(), bytes in proptest::collection::vec(any::<u8>(), 0..100), flag in any::<bool>()) {
        let tenant = TenantRecord { name: s.clone(), created: n, levels: vec![], signer: [7; 32], manifest: s.clone(), checkpoint: s.clone() };
        prop_assert_eq!(codec::decode::<TenantRecord>("t", &codec::encode("t", &tenant).unwrap()).unwrap(), tenant);
        let item = ItemRecord { header: bytes.clone(), size: n, created: n, blob: id, chunks: 1, inline: flag.then(|| bytes.clone()) };
        prop_assert_eq!(codec::decode::<ItemRecord>("i", &codec::encode("i", &item).unwrap()).unwrap(), item);
        let req = RequestRecord { id, tenant: s.clone(), engineer: s.clone(), levels: vec![s.clone()], reason: s.clone(),
            case_id: s.clone(), duration_secs: n, created: n, expires: n, decision: if flag { Decision::Denied } else { Decision::Pending },
            decided: flag.then_some(n), decided_by: None, decision_reason: Some(s.clone()), grant: flag.then_some(id) };
        prop_assert_eq!(codec::decode::<RequestRecord>("r", &codec::encode("r", &req).unwrap()).unwrap(), req);
        let grant = GrantRecord { id, request: id, tenant: s.clone(), engineer: s.clone(), levels: vec![(s.clone(), 3)],
            created: n, expires: n, approved_by: s.clone(), revoked: flag.then(|| (n, s.clone())), keys: vec![bytes.clone()], note: s.clone() };
        prop_assert_eq!(codec::decode::<GrantRecord>("g", &codec::encode("g", &grant).unwrap()).unwrap(), grant);
        let entry = Entry { seq: n, time: n, actor: s.clone(), tenant: s.clone(), subject: s.clone(), event: lockbox::audit::Event::GetDenied { why: s }, prev: [1; 32], chain: n, chain_prev: [3; 32], hash: [2; 32] };
        prop_assert_eq!(codec::decode::<Entry>("e", &codec::encode("e", &entry).unwrap()).unwrap(), entry);
    }

    /// Random bytes almost never pass a magic number, so canonicity is checked on valid
    /// encodings with one mutation (none, a flipped bit, a byte set, a cut, an insertion): the
    /// unmutated one must decode, and whatever decodes must re-encode to exactly its bytes.
    #[test]
    fn decoders_accept_only_canonical_bytes_near_valid_ones(h in header(), kind in 0u8..5, at in any::<usize>(),
                                                            value in any::<u8>(), engineer in name(),
                                                            secret in any::<[u8; 32]>(), n in 1u32..1000) {
        let context = GrantKeyContext { grant_id: [1; 16], tenant: h.tenant.clone(), level: h.level.clone(), epoch: n,
            engineer: engineer.clone(), expires: u64::from(n), engineer_fingerprint: [2; 16], level_fingerprint: [3; 16] };
        let blob = GrantKeyBlob { context, ephemeral: secret, wrapped: [4; 48] };
        let keyring = KeyringBody { tenants: vec![KeyringTenant { vault: [5; 16], tenant: h.tenant.clone(),
            signing_seed: Zeroizing::new(secret), last: ManifestMark { seq: u64::from(n), hash: [6; 32] },
            proposed: ManifestMark::default(), checkpoint: ManifestMark::default(), keys: vec![KeyringKey { level: h.level.clone(), epoch: n,
            state: KeyState::Released, secret: Zeroizing::new(secret) }], engineers: vec![(engineer.clone(), secret)] }] };
        let file = KeyFile { version: KeyFile::VERSION, kind: KeyFileKind::Identity,
            kdf: KdfParams { memory_kib: 8192 + n, iterations: 1 + n % 16, lanes: 1 }, salt: [7; 16], nonce: [8; 12],
            ciphertext: vec![9; 16 + n as usize % 50] };
        let entry = Entry { seq: u64::from(n), time: 1, actor: engineer.clone(), tenant: h.tenant.clone(),
            subject: h.item.clone(), event: lockbox::audit::Event::Put(lockbox::format::Stored { level: h.level.clone(),
            epoch: h.epoch, size: u64::from(n), replaced: n % 2 == 0, manifest: secret, header: [n as u8; 32] }), prev: [1; 32], chain: u64::from(n), chain_prev: [3; 32], hash: [2; 32] };
        let valids: Vec<(&str, Vec<u8>)> = vec![
            ("header", h.encode().unwrap()),
            ("key file", file.encode()),
            ("keyring", keyring.encode().unwrap().to_vec()),
            ("identity", IdentityBody { engineer, secret: Zeroizing::new(secret) }.encode().unwrap().to_vec()),
            ("grant blob", blob.encode().unwrap()),
            ("audit entry", codec::encode("e", &entry).unwrap()),
        ];
        for (what, valid) in valids {
            let bytes = mutate(&valid, kind, at, value);
            let reencoded: Option<Vec<u8>> = match what {
                "header" => Header::decode(&bytes).ok().map(|x| x.encode().unwrap()),
                "key file" => KeyFile::decode(&bytes).ok().map(|x| x.encode()),
                "keyring" => KeyringBody::decode(&bytes).ok().map(|x| x.encode().unwrap().to_vec()),
                "identity" => IdentityBody::decode(&bytes).ok().map(|x| x.encode().unwrap().to_vec()),
                "grant blob" => GrantKeyBlob::decode(&bytes).ok().map(|x| x.encode().unwrap()),
                _ => codec::decode::<Entry>("e", &bytes).ok().map(|x| codec::encode("e", &x).unwrap()),
            };
            if kind == 0 {
                prop_assert!(reencoded.is_some(), "a valid {} must decode", what);
            }
            if let Some(again) = reencoded {
                prop_assert_eq!(again, bytes, "{} decoded from non-canonical bytes", what);
            }
        }
    }

    #[test]
    fn decoders_never_panic_and_accept_only_canonical_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(h) = Header::decode(&bytes) { prop_assert_eq!(h.encode().unwrap(), bytes.clone()); }
        if let Ok(f) = KeyFile::decode(&bytes) { prop_assert_eq!(f.encode(), bytes.clone()); }
        if let Ok(b) = KeyringBody::decode(&bytes) { prop_assert_eq!(b.encode().unwrap().to_vec(), bytes.clone()); }
        if let Ok(b) = IdentityBody::decode(&bytes) { prop_assert_eq!(b.encode().unwrap().to_vec(), bytes.clone()); }
        if let Ok(b) = GrantKeyBlob::decode(&bytes) { prop_assert_eq!(b.encode().unwrap(), bytes.clone()); }
        if let Ok(r) = codec::decode::<GrantRecord>("g", &bytes) { prop_assert_eq!(codec::encode("g", &r).unwrap(), bytes.clone()); }
        if let Ok(r) = codec::decode::<Entry>("e", &bytes) { prop_assert_eq!(codec::encode("e", &r).unwrap(), bytes.clone()); }
    }

    #[test]
    fn encryption_round_trips_across_sizes_and_chunk_sizes(len in 0usize..3000, chunk_size in 16u32..400,
                                                           secret in any::<[u8; 32]>(), dek in any::<[u8; 32]>(),
                                                           nonce in any::<[u8; 32]>(), eph in any::<[u8; 32]>()) {
        let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let key = SecretKey::from_bytes(&secret);
        let f = ItemFields { tenant: "acme", level: "secret", item: "x", epoch: 1, chunk_size };
        let env = seal_envelope(&f, &key.public().0, dek, nonce, eph, &plain).unwrap();
        prop_assert_eq!(env.len(), 184 + 11 + len + 16 * len.div_ceil(chunk_size as usize).max(1));
        let mut out = Vec::new();
        open_envelope(&mut Cursor::new(&env), &One(secret), &mut out).unwrap();
        prop_assert_eq!(out, plain);
    }
}

/// `valid` with one mutation: 0 none, 1 a flipped bit, 2 a byte set to `value`, 3 cut at `at`,
/// 4 `value` inserted at `at`.
fn mutate(valid: &[u8], kind: u8, at: usize, value: u8) -> Vec<u8> {
    let mut b = valid.to_vec();
    let i = at % b.len().max(1);
    match kind {
        1 if !b.is_empty() => b[i] ^= 1 << (value % 8),
        2 if !b.is_empty() => b[i] = value,
        3 => b.truncate(i),
        4 => b.insert(i, value),
        _ => {}
    }
    b
}

struct One([u8; 32]);

impl LevelKeys for One {
    fn unwrapper(&self, _: &Header) -> Result<Box<dyn lockbox::crypto::KeyUnwrap + '_>, Error> {
        Ok(Box::new(Unwrapper::new(&SecretKey::from_bytes(&self.0))))
    }
}
