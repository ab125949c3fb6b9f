//! Criterion micro-benchmarks of the primitives every item pays for, each beside its baseline:
//! sealing a 64 KiB chunk vs raw AES-256-GCM (lockbox's, ring's, and the aes-gcm crate's it
//! replaced), a data-key wrap with a fresh exchange vs one
//! amortised over a batch, and an unwrap with and without the cached exchange.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lockbox::crypto::{AeadKey, DataKey, ItemKeys, PublicKey, Purpose, SecretKey, Unwrapper, Wrapper};
use lockbox::format::DEFAULT_CHUNK_SIZE;

fn chunks(c: &mut Criterion) {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(DEFAULT_CHUNK_SIZE as u64));
    let data = vec![7u8; DEFAULT_CHUNK_SIZE as usize];
    let dek = DataKey::generate().unwrap();
    g.bench_function("lockbox seal (derive keys + seal one chunk)", |b| {
        b.iter(|| {
            let mut buf = data.clone();
            ItemKeys::derive(&dek, &[1; 32], b"context").sealer().seal(&mut buf, true).unwrap();
            buf
        })
    });
    let key = AeadKey::new(&[3u8; 32]);
    g.bench_function("baseline: raw AES-256-GCM (ring)", |b| {
        b.iter(|| {
            let mut buf = data.clone();
            key.seal([0u8; 12], &[], &mut buf).unwrap();
            buf
        })
    });
    let cipher = aes_gcm::Aes256Gcm::new(&aes_gcm::Key::<aes_gcm::Aes256Gcm>::from([3u8; 32]));
    g.bench_function("the aes-gcm crate, used before session 6", |b| {
        b.iter(|| {
            let mut buf = data.clone();
            cipher.encrypt_in_place(&aes_gcm::Nonce::from([0u8; 12]), &[], &mut buf).unwrap();
            buf
        })
    });
    g.finish();
}

fn wraps(c: &mut Criterion) {
    let mut g = c.benchmark_group("wrap");
    let level = SecretKey::generate().unwrap();
    let public = level.public();
    let key = [9u8; 32];
    g.bench_function("fresh ephemeral per item (baseline)", |b| {
        b.iter(|| Wrapper::new(&public).unwrap().wrap(Purpose::DataKey, b"ctx", &key).unwrap())
    });
    let batch = Wrapper::new(&public).unwrap();
    g.bench_function("one ephemeral per batch", |b| {
        b.iter(|| batch.wrap(Purpose::DataKey, b"ctx", &key).unwrap())
    });
    let wrapped = batch.wrap(Purpose::DataKey, b"ctx", &key).unwrap();
    g.bench_function("unwrap, new exchange (baseline)", |b| {
        b.iter(|| Unwrapper::new(&level).unwrap(Purpose::DataKey, b"ctx", &wrapped).unwrap())
    });
    let mut cached = Unwrapper::new(&level);
    g.bench_function("unwrap, cached exchange", |b| {
        b.iter(|| cached.unwrap(Purpose::DataKey, b"ctx", &wrapped).unwrap())
    });
    let _ = PublicKey(public.0);
    g.finish();
}

criterion_group!(benches, chunks, wraps);
criterion_main!(benches);
