//! Pure encoding and decoding of lockbox's wire objects: no crypto, no I/O.
//!
//! Every decoder here is strict and canonical: magic, version and suite are checked, unknown
//! versions are rejected, every length is checked against a documented limit (see
//! `docs/FORMAT.md`) before anything is allocated, reserved bits must be zero and trailing bytes
//! are an error. What decodes re-encodes to the same bytes.

mod audit;
mod checkpoint;
mod cursor;
mod envelope;
mod error;
mod grant;
mod grant_note;
mod keyfile;
mod manifest;
mod names;
mod note;
mod pins;
mod request;
mod time;
mod writer;

#[doc(hidden)]
pub use audit::samples as audit_samples;
pub use audit::{
    AuditEvent, Closed, Ids, Logged, MAX_CLOSED_IDS, MAX_EVENT_LEN, MAX_LOGGED_LEN, MAX_TEXT_LEN, Stored,
};
pub use checkpoint::Checkpoint;
pub use cursor::Reader;
pub use envelope::{
    CHUNK_TAG_LEN, DEFAULT_CHUNK_SIZE, ENVELOPE_MAGIC, ENVELOPE_VERSION, HEADER_FIXED_LEN, Header,
    MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, SUITE_X25519_HKDF_SHA256_AES256GCM, check_chunk_len,
};
pub use error::FormatError;
pub use grant::{GrantKeyBlob, GrantKeyContext};
pub use grant_note::GrantNote;
pub use keyfile::{
    IdentityBody, KdfParams, KeyFile, KeyFileKind, KeyState, KeyringBody, KeyringKey, KeyringTenant,
    MAX_KEYRING_ENGINEERS, MAX_KEYRING_ENTRIES, MAX_KEYRING_TENANTS, MAX_MONITOR_TENANTS, ManifestMark,
    MonitorBody, MonitorTenant,
};
pub use manifest::{
    MAX_GRANT_KEYS, MAX_MANIFEST_LEVELS, MAX_MONITOR_INTERVAL, MAX_RELEASED, MIN_MONITOR_INTERVAL, Manifest,
    ManifestLevel, ManifestMonitor, note_kind, origin, parse_origin,
};
pub use names::{
    MAX_ITEM_ID_LEN, MAX_ITEM_SEGMENT_LEN, MAX_NAME_LEN, check_item_id, check_item_path, check_name,
};
pub use note::{MAX_NOTE_LEN, SignedNote, hex_array};
pub use pins::{
    MAX_PINS, MAX_PINS_LEN, MAX_PLACE_LEN, PinLine, decode_pins, decode_place, encode_pins, encode_place,
};
pub use request::{REQUEST_DIGEST_LABEL, RequestDigestInput};
pub use time::{duration, rfc3339, size};
pub use writer::{Len, Writer};

/// Lower-case hex of any bytes (ids, hashes, fingerprints in messages).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// Length in bytes of an X25519 key (public or secret) and of a data key.
pub const KEY_LEN: usize = 32;
/// Length of a wrapped 32-byte key: ciphertext plus the AES-GCM tag. Exactly this, or it is refused.
pub const WRAPPED_KEY_LEN: usize = KEY_LEN + 16;
/// Length of a key fingerprint: enough to select a key without trial decryption.
pub const FINGERPRINT_LEN: usize = 16;
