//! Passphrase-protected key files (the customer's keyring, an engineer's identity).
//!
//! ```text
//! offset size field
//!      0    4 magic "LBXK"
//!      4    1 version (1)
//!      5    1 kind (1 = keyring, 2 = identity)
//!      6    2 reserved, zero
//!      8    4 Argon2id memory in KiB, 8192..=1048576
//!     12    4 Argon2id iterations, 1..=16
//!     16    4 Argon2id lanes, 1..=8
//!     20   16 salt
//!     36   12 AES-256-GCM nonce
//!     48    4 ciphertext length, 16..=16 MiB
//!     52    . ciphertext of the body, tag last; bytes 0..52 are its associated data
//! ```
//! Keyring body: u32 entry count (<= 65536), then per entry, sorted strictly by
//! (tenant, level, epoch): tenant (u8 length + bytes), level (u8 length + bytes), u32 epoch,
//! 32-byte X25519 secret key. Identity body: engineer name (u8 length + bytes), 32-byte secret key.

use zeroize::Zeroizing;

use super::cursor::{Reader, in_range, utf8};
use super::envelope::put_name;
use super::{FormatError, KEY_LEN, MAX_NAME_LEN, check_name};

const MAGIC: [u8; 4] = *b"LBXK";
const VERSION: u8 = 1;
const WHAT: &str = "key file";
/// Length of the key file header, which is also the AEAD's associated data.
pub const KEYFILE_HEADER_LEN: usize = 52;
/// Most entries a keyring may hold.
pub const MAX_KEYRING_ENTRIES: usize = 65_536;
const MAX_CIPHERTEXT: u64 = 16 * 1024 * 1024;
const MIN_ENTRY_LEN: usize = 1 + 1 + 1 + 1 + 4 + KEY_LEN;

/// Which secret a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    /// A customer's level keys.
    Keyring = 1,
    /// An engineer's identity key.
    Identity = 2,
}

/// Argon2id cost parameters, stored in the file so they can be raised later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub lanes: u32,
}

/// The outer, encrypted key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// What the body holds.
    pub kind: KeyFileKind,
    /// Cost of deriving the file key from the passphrase.
    pub kdf: KdfParams,
    /// Argon2id salt.
    pub salt: [u8; 16],
    /// AES-GCM nonce of this save.
    pub nonce: [u8; 12],
    /// The encrypted body.
    pub ciphertext: Vec<u8>,
}

impl KeyFile {
    /// The header bytes: what the AEAD authenticates alongside the body.
    pub fn header(&self) -> [u8; KEYFILE_HEADER_LEN] {
        let mut out = [0u8; KEYFILE_HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = VERSION;
        out[5] = self.kind as u8;
        out[8..12].copy_from_slice(&self.kdf.memory_kib.to_be_bytes());
        out[12..16].copy_from_slice(&self.kdf.iterations.to_be_bytes());
        out[16..20].copy_from_slice(&self.kdf.lanes.to_be_bytes());
        out[20..36].copy_from_slice(&self.salt);
        out[36..48].copy_from_slice(&self.nonce);
        out[48..52].copy_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        out
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header().to_vec();
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Decodes a whole file.
    pub fn decode(bytes: &[u8]) -> Result<KeyFile, FormatError> {
        let mut r = Reader::new(bytes, WHAT);
        if r.array::<4>()? != MAGIC {
            return Err(FormatError::BadMagic { what: WHAT });
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(FormatError::UnsupportedVersion { what: WHAT, version });
        }
        let kind = match r.u8()? {
            1 => KeyFileKind::Keyring,
            2 => KeyFileKind::Identity,
            _ => {
                return Err(FormatError::NonCanonical { what: WHAT, why: "unknown kind" });
            }
        };
        if r.u16()? != 0 {
            return Err(FormatError::Reserved { what: WHAT });
        }
        let kdf = KdfParams { memory_kib: r.u32()?, iterations: r.u32()?, lanes: r.u32()? };
        kdf.check()?;
        let salt = r.array()?;
        let nonce = r.array()?;
        let len = r.u32()? as u64;
        in_range("key file ciphertext length", len, 16, MAX_CIPHERTEXT)?;
        let ciphertext = r.take(len as usize)?.to_vec();
        r.finish()?;
        Ok(KeyFile { kind, kdf, salt, nonce, ciphertext })
    }
}

impl KdfParams {
    /// Checks the documented limits, which bound the memory and time a hostile file can demand.
    pub fn check(&self) -> Result<(), FormatError> {
        in_range("Argon2id memory (KiB)", self.memory_kib.into(), 8192, 1 << 20)?;
        in_range("Argon2id iterations", self.iterations.into(), 1, 16)?;
        in_range("Argon2id lanes", self.lanes.into(), 1, 8)
    }
}

/// One level-epoch private key in a keyring.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyringEntry {
    /// Tenant.
    pub tenant: String,
    /// Level.
    pub level: String,
    /// Epoch.
    pub epoch: u32,
    /// X25519 secret key; zeroized on drop.
    pub secret: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for KeyringEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringEntry({}/{}@{}, secret redacted)", self.tenant, self.level, self.epoch)
    }
}

/// The decrypted body of a keyring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyringBody {
    /// Entries sorted strictly by (tenant, level, epoch).
    pub entries: Vec<KeyringEntry>,
}

impl KeyringBody {
    /// The canonical encoding, in a buffer zeroized on drop. Entries must already be sorted.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(4 + self.entries.len() * 100));
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            put_name(&mut out, &e.tenant);
            put_name(&mut out, &e.level);
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&e.secret[..]);
        }
        out
    }

    /// Decodes a body: sorted, no duplicates, valid names, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<KeyringBody, FormatError> {
        const WHAT: &str = "keyring";
        let mut r = Reader::new(bytes, WHAT);
        let count = r.u32()? as usize;
        in_range("keyring entry count", count as u64, 0, MAX_KEYRING_ENTRIES as u64)?;
        if count.saturating_mul(MIN_ENTRY_LEN) > r.remaining() {
            return Err(FormatError::Truncated { what: WHAT });
        }
        let mut entries: Vec<KeyringEntry> = Vec::with_capacity(count);
        for _ in 0..count {
            let tenant = name(&mut r, "tenant")?;
            let level = name(&mut r, "level")?;
            let epoch = r.u32()?;
            in_range("epoch", epoch.into(), 1, u32::MAX.into())?;
            let secret = Zeroizing::new(r.array()?);
            let entry = KeyringEntry { tenant, level, epoch, secret };
            if let Some(prev) = entries.last()
                && key_of(prev) >= key_of(&entry)
            {
                return Err(FormatError::NonCanonical { what: WHAT, why: "entries out of order" });
            }
            entries.push(entry);
        }
        r.finish()?;
        Ok(KeyringBody { entries })
    }
}

fn key_of(e: &KeyringEntry) -> (&str, &str, u32) {
    (&e.tenant, &e.level, e.epoch)
}

fn name(r: &mut Reader<'_>, kind: &'static str) -> Result<String, FormatError> {
    let len = r.u8()? as usize;
    in_range(kind, len as u64, 1, MAX_NAME_LEN as u64)?;
    let s = utf8(kind, r.take(len)?)?;
    check_name(kind, s)?;
    Ok(s.to_owned())
}

/// The decrypted body of an engineer identity.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityBody {
    /// The engineer's name.
    pub engineer: String,
    /// X25519 secret key; zeroized on drop.
    pub secret: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for IdentityBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdentityBody({}, secret redacted)", self.engineer)
    }
}

impl IdentityBody {
    /// The canonical encoding, zeroized on drop.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1 + self.engineer.len() + KEY_LEN));
        put_name(&mut out, &self.engineer);
        out.extend_from_slice(&self.secret[..]);
        out
    }

    /// Decodes a body.
    pub fn decode(bytes: &[u8]) -> Result<IdentityBody, FormatError> {
        let mut r = Reader::new(bytes, "identity");
        let engineer = name(&mut r, "engineer")?;
        let secret = Zeroizing::new(r.array()?);
        r.finish()?;
        Ok(IdentityBody { engineer, secret })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(t: &str, l: &str, e: u32) -> KeyringEntry {
        KeyringEntry { tenant: t.into(), level: l.into(), epoch: e, secret: Zeroizing::new([e as u8; 32]) }
    }

    #[test]
    fn keyring_body_round_trips_and_must_be_sorted() {
        let body = KeyringBody { entries: vec![entry("a", "x", 1), entry("a", "x", 2), entry("b", "a", 1)] };
        let bytes = body.encode();
        assert_eq!(KeyringBody::decode(&bytes).unwrap(), body);
        let unsorted = KeyringBody { entries: vec![entry("b", "a", 1), entry("a", "x", 1)] };
        assert!(matches!(KeyringBody::decode(&unsorted.encode()), Err(FormatError::NonCanonical { .. })));
        let dup = KeyringBody { entries: vec![entry("a", "x", 1), entry("a", "x", 1)] };
        assert!(KeyringBody::decode(&dup.encode()).is_err());
    }

    #[test]
    fn huge_counts_are_refused_before_allocating() {
        let mut bytes = (MAX_KEYRING_ENTRIES as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 10]);
        assert!(matches!(KeyringBody::decode(&bytes), Err(FormatError::Truncated { .. })));
        let bytes = u32::MAX.to_be_bytes();
        assert!(matches!(KeyringBody::decode(&bytes), Err(FormatError::OutOfRange { .. })));
    }

    #[test]
    fn key_file_round_trips_and_checks_kdf_limits() {
        let file = KeyFile {
            kind: KeyFileKind::Identity,
            kdf: KdfParams { memory_kib: 65536, iterations: 3, lanes: 1 },
            salt: [1; 16],
            nonce: [2; 12],
            ciphertext: vec![3; 80],
        };
        let bytes = file.encode();
        assert_eq!(KeyFile::decode(&bytes).unwrap(), file);
        let greedy = KeyFile { kdf: KdfParams { memory_kib: u32::MAX, ..file.kdf }, ..file };
        assert!(matches!(KeyFile::decode(&greedy.encode()), Err(FormatError::OutOfRange { .. })));
    }
}
