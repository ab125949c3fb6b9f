//! Writes the envelope test vectors in tests/vectors/ deterministically:
//!
//! ```sh
//! cargo run --example make_vectors -- tests/vectors fuzz/corpus
//! ```
//!
//! It also writes the fuzz seed corpora (valid objects of every kind) under the second path.
//!
//! Each vector is a JSON file: the level keys a reader holds, the envelope (hex), and the
//! expected outcome: the plaintext, or an error kind and a phrase of its message. Another
//! implementation can check itself against them with the same keys.

use std::path::{Path, PathBuf};

use lockbox::crypto::{DataKey, SecretKey, Wrapper};
use lockbox::format::{DEFAULT_CHUNK_SIZE, HEADER_FIXED_LEN, Header};
use lockbox::vault::{ItemFields, seal_envelope, seal_header};
use serde_json::json;

mod audit;
mod notes;
mod seeds;

use audit::audit_events;
use notes::notes;
use seeds::seeds;

const LEVEL_SECRET: [u8; 32] = [0x11; 32];
const DEK: [u8; 32] = [0x22; 32];
const NONCE: [u8; 32] = [0x33; 32];
const EPHEMERAL: [u8; 32] = [0x44; 32];
const CS: u32 = 64;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

fn fields(chunk_size: u32) -> ItemFields<'static> {
    ItemFields { tenant: "acme", level: "secret", item: "doc", epoch: 1, chunk_size }
}

fn public() -> [u8; 32] {
    SecretKey::from_bytes(&LEVEL_SECRET).public().0
}

fn envelope(len: usize, chunk_size: u32) -> Vec<u8> {
    seal_envelope(&fields(chunk_size), &public(), DEK, NONCE, EPHEMERAL, &plaintext(len)).unwrap()
}

struct Writer {
    dir: PathBuf,
    count: usize,
}

impl Writer {
    fn write(&mut self, name: &str, description: &str, envelope: &[u8], expect: serde_json::Value) {
        let v = json!({
            "name": name,
            "description": description,
            "keys": [{"tenant": "acme", "level": "secret", "epoch": 1, "secret": hex(&LEVEL_SECRET)}],
            "envelope": hex(envelope),
            "expect": expect,
        });
        let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
        std::fs::write(self.dir.join(format!("{name}.json")), text).unwrap();
        self.count += 1;
    }

    fn valid(&mut self, name: &str, description: &str, len: usize, chunk_size: u32) {
        let env = envelope(len, chunk_size);
        self.write(name, description, &env, json!({"plaintext": hex(&plaintext(len))}));
    }

    fn invalid(&mut self, name: &str, description: &str, env: &[u8], kind: &str, phrase: &str) {
        self.write(name, description, env, json!({"error": kind, "message_contains": phrase}));
    }
}

/// The base envelope with its decoded header re-encoded after `f` changed it.
fn with_header(f: impl FnOnce(&mut Header)) -> Vec<u8> {
    let env = envelope(200, CS);
    let len = Header::declared_len(&env[..HEADER_FIXED_LEN]).unwrap();
    let mut h = Header::decode(&env[..len]).unwrap();
    f(&mut h);
    [h.encode().unwrap(), env[len..].to_vec()].concat()
}

/// The base envelope with raw bytes patched.
fn patched(patches: &[(usize, u8)]) -> Vec<u8> {
    let mut env = envelope(200, CS);
    for (at, byte) in patches {
        env[*at] = *byte;
    }
    env
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "tests/vectors".into());
    let dir = Path::new(&dir).to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    for old in std::fs::read_dir(&dir).unwrap() {
        let path = old.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::remove_file(path).unwrap();
        }
    }
    let mut w = Writer { dir, count: 0 };

    for (len, what) in [
        (0, "empty"),
        (1, "one byte"),
        (63, "chunk - 1"),
        (64, "one full chunk"),
        (65, "chunk + 1"),
        (200, "several chunks"),
    ] {
        w.valid(&format!("valid-{len}-bytes-chunk-64"), &format!("{what}, chunk size 64"), len, CS);
    }
    w.valid("valid-1000-bytes-default-chunk", "1000 bytes, default chunk size", 1000, DEFAULT_CHUNK_SIZE);

    let base = envelope(200, CS);
    let header_len = Header::declared_len(&base[..HEADER_FIXED_LEN]).unwrap();
    let full = CS as usize + 16;
    let (head, body) = base.split_at(header_len);
    let chunk = |i: usize| &body[i * full..((i + 1) * full).min(body.len())];
    // 200 bytes at 64 per chunk: chunks 0, 1, 2 full and chunk 3 (8 bytes) final.
    let integrity = "integrity";

    w.invalid("wrong-magic", "magic is not LBXE", &patched(&[(0, b'X')]), integrity, "wrong magic");
    w.invalid("unknown-version", "version 2", &patched(&[(4, 2)]), integrity, "unsupported format version 2");
    w.invalid("bad-suite", "suite 9", &patched(&[(5, 9)]), integrity, "unsupported cipher suite 9");
    w.invalid("reserved-flags", "a flag bit set", &patched(&[(7, 1)]), integrity, "reserved bits");
    let small = with_header(|h| h.chunk_size = 15);
    w.invalid("chunk-size-too-small", "chunk size 15", &small, integrity, "chunk size is 15");
    let big = with_header(|h| h.chunk_size = 16 * 1024 * 1024 + 1);
    w.invalid("chunk-size-too-large", "chunk size 16 MiB + 1", &big, integrity, "chunk size is 16777217");
    w.invalid("epoch-zero", "epoch 0", &with_header(|h| h.epoch = 0), integrity, "epoch is 0");
    let below = with_header(|h| {
        h.epoch = 2;
        h.key_epoch = 1
    });
    w.invalid("key-epoch-below-epoch", "key epoch 1 < epoch 2", &below, integrity, "key epoch is 1");
    w.invalid("tenant-length-zero", "tenant length 0", &patched(&[(20, 0)]), integrity, "tenant length is 0");
    w.invalid(
        "tenant-length-too-long",
        "tenant length 64",
        &patched(&[(20, 64)]),
        integrity,
        "tenant length is 64",
    );
    w.invalid("level-length-zero", "level length 0", &patched(&[(21, 0)]), integrity, "level length is 0");
    w.invalid(
        "item-length-zero",
        "item id length 0",
        &patched(&[(22, 0), (23, 0)]),
        integrity,
        "item id length is 0",
    );
    w.invalid(
        "item-length-too-long",
        "item id length 1025",
        &patched(&[(22, 4), (23, 1)]),
        integrity,
        "item id length is 1025",
    );
    let upper = with_header(|h| h.tenant = "Acme".into());
    w.invalid("tenant-not-canonical-name", "upper-case tenant", &upper, integrity, "invalid tenant");
    let mut not_utf8 = base.clone();
    not_utf8[header_len - 1] = 0xff;
    w.invalid("item-not-utf8", "item id byte 0xff", &not_utf8, integrity, "not valid UTF-8");
    w.invalid("truncated-header", "first 100 bytes", &base[..100], integrity, "truncated");
    w.invalid("header-only", "no payload at all", head, integrity, "truncated");
    let zero = with_header(|h| h.ephemeral = [0; 32]);
    w.invalid("all-zero-ephemeral", "ephemeral key of zeros", &zero, integrity, "all-zero ephemeral key");
    let mut one = [0u8; 32];
    one[0] = 1;
    let low = with_header(|h| h.ephemeral = one);
    w.invalid("low-order-ephemeral", "ephemeral key u = 1 (order 1)", &low, integrity, "does not unwrap");
    let commit = with_header(|h| h.commitment[0] ^= 1);
    w.invalid(
        "wrong-commitment",
        "one commitment bit flipped",
        &commit,
        integrity,
        "key commitment mismatch",
    );
    let wrapped = with_header(|h| h.wrapped_dek[47] ^= 1);
    w.invalid(
        "wrapped-key-altered",
        "one tag bit of the wrapped key flipped",
        &wrapped,
        integrity,
        "does not unwrap",
    );
    let fp = with_header(|h| h.fingerprint[0] ^= 1);
    w.invalid("wrong-fingerprint", "fingerprint of another key", &fp, integrity, "names a key other");
    let moved = with_header(|h| h.item = "dog".into());
    w.invalid("context-mismatch-item", "item id relabelled doc -> dog", &moved, integrity, "does not unwrap");
    let nonce = with_header(|h| h.nonce[0] ^= 1);
    w.invalid("context-mismatch-nonce", "item nonce altered", &nonce, integrity, "does not unwrap");
    let rewrapped = with_header(|h| h.key_epoch = 2);
    w.invalid(
        "unknown-key-epoch",
        "key epoch 2, which the reader has no key for",
        &rewrapped,
        "access_denied",
        "no key",
    );
    let swapped = [head, chunk(1), chunk(0), chunk(2), chunk(3)].concat();
    w.invalid("swapped-chunks", "chunks 0 and 1 swapped", &swapped, integrity, "does not authenticate");
    let missing = [head, chunk(0), chunk(2), chunk(3)].concat();
    w.invalid("missing-chunk", "chunk 1 removed", &missing, integrity, "does not authenticate");
    let duplicated = [head, chunk(0), chunk(0), chunk(1), chunk(2), chunk(3)].concat();
    w.invalid("duplicated-chunk", "chunk 0 twice", &duplicated, integrity, "does not authenticate");
    let no_final = [head, chunk(0), chunk(1), chunk(2)].concat();
    w.invalid(
        "missing-final-chunk",
        "the final chunk removed",
        &no_final,
        integrity,
        "does not authenticate",
    );
    let extra = [head, chunk(0), chunk(1), chunk(2), chunk(3), chunk(0)].concat();
    w.invalid("extra-chunk", "a chunk after the final one", &extra, integrity, "does not authenticate");
    let trailing = [&base[..], &[0u8]].concat();
    w.invalid(
        "trailing-byte",
        "one byte after the final chunk",
        &trailing,
        integrity,
        "does not authenticate",
    );
    let mut flipped = base.clone();
    flipped[header_len + 5] ^= 1;
    w.invalid("ciphertext-altered", "one payload bit flipped", &flipped, integrity, "does not authenticate");
    let short_chunk = [head, &chunk(0)[..full - 1], chunk(1), chunk(2), chunk(3)].concat();
    w.invalid(
        "short-chunk",
        "a non-final chunk one byte short",
        &short_chunk,
        integrity,
        "does not authenticate",
    );
    w.invalid(
        "empty-final-chunk",
        "64 bytes as a full chunk and an empty final chunk",
        &empty_final_chunk(),
        integrity,
        "empty final chunk",
    );
    println!("wrote {} vectors to {}", w.count, w.dir.display());
    notes(&w.dir.join("notes"));
    audit_events(&w.dir.join("audit"));
    let corpus = std::env::args().nth(2).unwrap_or_else(|| "fuzz/corpus".into());
    seeds(Path::new(&corpus));
}

/// 64 bytes sealed non-canonically: chunk 0 not final, then an empty final chunk.
fn empty_final_chunk() -> Vec<u8> {
    let wrapper =
        Wrapper::with_ephemeral(&SecretKey::from_bytes(&EPHEMERAL), &lockbox::crypto::PublicKey(public()))
            .unwrap();
    let dek = DataKey::from_bytes(zeroize::Zeroizing::new(DEK));
    let (header, mut sealer) = seal_header(&fields(CS), &public(), &dek, NONCE, &wrapper).unwrap();
    let mut first = plaintext(64);
    sealer.seal(&mut first, false).unwrap();
    let mut last = Vec::new();
    sealer.seal(&mut last, true).unwrap();
    [header.encode().unwrap(), first, last].concat()
}
