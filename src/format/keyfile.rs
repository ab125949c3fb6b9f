//! Passphrase-protected key files (the customer's keyring, an engineer's identity, an audit
//! monitor's key).
//!
//! ```text
//! offset size field
//!      0    4 magic "LBXK"
//!      4    1 version (2; 1 is read for an identity only)
//!      5    1 kind (1 = keyring, 2 = identity, 3 = monitor)
//!      6    2 reserved, zero
//!      8    4 Argon2id memory in KiB, 8192..=1048576
//!     12    4 Argon2id iterations, 1..=16
//!     16    4 Argon2id lanes, 1..=8
//!     20   16 salt
//!     36   12 AES-256-GCM nonce
//!     48    4 ciphertext length, 16..=16 MiB
//!     52    . ciphertext of the body, tag last; bytes 0..52 are its associated data
//! ```
//! Keyring body (version 2): u32 tenant count (<= 4096), then per tenant, sorted strictly by
//! (vault id, tenant): 16-byte vault id, tenant (u8 length + bytes), 32-byte Ed25519 signing
//! seed, three marks (last manifest, proposed manifest, audit checkpoint: u64 seq + 32-byte
//! hash, both zero for none), u32
//! key count (all tenants together <= 65536) and per key, sorted strictly by (level, epoch):
//! level (u8 length + bytes), u32 epoch, u8 state (1 pending, 2 registered, 3 released),
//! 32-byte X25519 secret; then u32 engineer count (<= 4096) and per engineer, sorted strictly
//! by name: name (u8 length + bytes), 32-byte X25519 public key. Identity body (versions 1
//! and 2): engineer name (u8 length + bytes), 32-byte secret key. Monitor body (version 2):
//! 32-byte Ed25519 seed of the monitor key, u32 tenant count (<= 4096), then per tenant, sorted
//! strictly by (vault id, tenant): 16-byte vault id, tenant (u8 length + bytes), the pinned
//! 32-byte Ed25519 public key of the tenant, and the last checkpoint the monitor signed (u64
//! size + 32-byte head, both zero for none).

use zeroize::Zeroizing;

use super::cursor::{Reader, in_range, utf8};
use super::envelope::put_name;
use super::{FormatError, KEY_LEN, MAX_NAME_LEN, check_name};

const MAGIC: [u8; 4] = *b"LBXK";
/// Version of new key files. Version 1 (before tenant signing keys) is still read for an
/// identity, whose body did not change; a version 1 keyring is refused.
const VERSION: u8 = 2;
const WHAT: &str = "key file";
/// Length of the key file header, which is also the AEAD's associated data.
pub const KEYFILE_HEADER_LEN: usize = 52;
/// Most entries a keyring may hold.
pub const MAX_KEYRING_ENTRIES: usize = 65_536;
const MAX_CIPHERTEXT: u64 = 16 * 1024 * 1024;

/// Which secret a key file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileKind {
    /// A customer's level keys.
    Keyring = 1,
    /// An engineer's identity key.
    Identity = 2,
    /// An audit monitor's checkpoint signing key.
    Monitor = 3,
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
    /// Format version: 2, or 1 for an identity written by an older lockbox.
    pub version: u8,
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
    /// The version new files are written with.
    pub const VERSION: u8 = VERSION;

    /// The header bytes: what the AEAD authenticates alongside the body.
    pub fn header(&self) -> [u8; KEYFILE_HEADER_LEN] {
        let mut out = [0u8; KEYFILE_HEADER_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = self.version;
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
        let kind = match r.u8()? {
            1 => KeyFileKind::Keyring,
            2 => KeyFileKind::Identity,
            3 => KeyFileKind::Monitor,
            _ => {
                return Err(FormatError::NonCanonical { what: WHAT, why: "unknown kind" });
            }
        };
        if !(version == VERSION || (version == 1 && kind == KeyFileKind::Identity)) {
            return Err(FormatError::UnsupportedVersion { what: WHAT, version });
        }
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
        Ok(KeyFile { version, kind, kdf, salt, nonce, ciphertext })
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

/// What a keyring knows of a level-epoch key's life. Only a pending key is ever reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Generated and saved; no manifest the vault holds names it yet.
    Pending = 1,
    /// Named by a manifest the vault committed.
    Registered = 2,
    /// Wrapped to an engineer in a grant: never reused for anything new.
    Released = 3,
}

/// One level-epoch private key in a keyring.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyringKey {
    /// Level.
    pub level: String,
    /// Epoch.
    pub epoch: u32,
    /// Where the key stands.
    pub state: KeyState,
    /// X25519 secret key; zeroized on drop.
    pub secret: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for KeyringKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringKey({}@{} {:?}, secret redacted)", self.level, self.epoch, self.state)
    }
}

/// A manifest a keyring signed: its sequence number (0: none) and the SHA-256 of its note.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManifestMark {
    /// Sequence number; 0 when there is none.
    pub seq: u64,
    /// SHA-256 of the whole signed note; zeros when there is none.
    pub hash: [u8; 32],
}

/// Everything a keyring holds for one tenant of one vault.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyringTenant {
    /// The vault's id.
    pub vault: [u8; 16],
    /// Tenant.
    pub tenant: String,
    /// Ed25519 seed of the tenant signing key; zeroized on drop.
    pub signing_seed: Zeroizing<[u8; 32]>,
    /// The last manifest the vault is known to hold (it was committed).
    pub last: ManifestMark,
    /// A manifest signed and handed to the vault whose commit is not known to have happened.
    pub proposed: ManifestMark,
    /// The last audit checkpoint the keyring signed: `seq` the size of the tenant's chain it
    /// covered, `hash` that chain's head.
    pub checkpoint: ManifestMark,
    /// Level keys, sorted strictly by (level, epoch).
    pub keys: Vec<KeyringKey>,
    /// Engineer keys pinned by an approval, sorted strictly by name.
    pub engineers: Vec<(String, [u8; KEY_LEN])>,
}

impl std::fmt::Debug for KeyringTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringTenant({}, {} keys, signing key redacted)", self.tenant, self.keys.len())
    }
}

/// The decrypted body of a keyring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyringBody {
    /// Tenants sorted strictly by (vault, tenant).
    pub tenants: Vec<KeyringTenant>,
}

/// Most tenants a keyring holds.
pub const MAX_KEYRING_TENANTS: usize = 4096;
/// Most engineer pins per tenant.
pub const MAX_KEYRING_ENGINEERS: usize = 4096;
const MIN_TENANT_LEN: usize = 16 + 2 + 32 + 3 * 40 + 8;
const MIN_KEY_LEN: usize = 2 + 4 + 1 + KEY_LEN;
const MIN_ENGINEER_LEN: usize = 2 + KEY_LEN;

impl KeyringBody {
    /// The canonical encoding, in a buffer zeroized on drop and allocated once at its final
    /// size (a buffer that grew would leave copies of the secrets behind). Everything must
    /// already be sorted; a count or name over its limit is an error.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, FormatError> {
        let len = 4 + self
            .tenants
            .iter()
            .map(|t| {
                16 + 1
                    + t.tenant.len()
                    + 32
                    + 3 * 40
                    + 4
                    + t.keys.iter().map(|k| 1 + k.level.len() + 4 + 1 + 32).sum::<usize>()
                    + 4
                    + t.engineers.iter().map(|(n, _)| 1 + n.len() + KEY_LEN).sum::<usize>()
            })
            .sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        let total_keys: usize = self.tenants.iter().map(|t| t.keys.len()).sum();
        count(&mut out, "keyring key count", total_keys, MAX_KEYRING_ENTRIES, None)?;
        count(&mut out, "keyring tenant count", self.tenants.len(), MAX_KEYRING_TENANTS, Some(()))?;
        for t in &self.tenants {
            out.extend_from_slice(&t.vault);
            put_name(&mut out, &t.tenant)?;
            out.extend_from_slice(&t.signing_seed[..]);
            for mark in [t.last, t.proposed, t.checkpoint] {
                out.extend_from_slice(&mark.seq.to_be_bytes());
                out.extend_from_slice(&mark.hash);
            }
            count(&mut out, "keyring key count", t.keys.len(), MAX_KEYRING_ENTRIES, Some(()))?;
            for k in &t.keys {
                put_name(&mut out, &k.level)?;
                out.extend_from_slice(&k.epoch.to_be_bytes());
                out.push(k.state as u8);
                out.extend_from_slice(&k.secret[..]);
            }
            count(&mut out, "keyring engineer count", t.engineers.len(), MAX_KEYRING_ENGINEERS, Some(()))?;
            for (name, public) in &t.engineers {
                put_name(&mut out, name)?;
                out.extend_from_slice(public);
            }
        }
        debug_assert_eq!(out.len(), len, "allocated once, at its final size");
        Ok(out)
    }

    /// Decodes a body: sorted, no duplicates, valid names, counts within limits (checked
    /// against the bytes left before anything is allocated), no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<KeyringBody, FormatError> {
        const WHAT: &str = "keyring";
        let order = |why| FormatError::NonCanonical { what: WHAT, why };
        let mut r = Reader::new(bytes, WHAT);
        let count = counted(&mut r, "keyring tenant count", MAX_KEYRING_TENANTS, MIN_TENANT_LEN)?;
        let mut tenants: Vec<KeyringTenant> = Vec::with_capacity(count);
        let mut total_keys = 0usize;
        for _ in 0..count {
            let vault = r.array()?;
            let tenant = name(&mut r, "tenant")?;
            let signing_seed = Zeroizing::new(r.array()?);
            let mut marks = [ManifestMark::default(); 3];
            for mark in &mut marks {
                *mark = ManifestMark { seq: r.u64()?, hash: r.array()? };
                if (mark.seq == 0) != (mark.hash == [0; 32]) {
                    return Err(order("a manifest mark with a hash but no sequence number, or the reverse"));
                }
            }
            let n = counted(&mut r, "keyring key count", MAX_KEYRING_ENTRIES - total_keys, MIN_KEY_LEN)?;
            total_keys += n;
            let mut keys: Vec<KeyringKey> = Vec::with_capacity(n);
            for _ in 0..n {
                let level = name(&mut r, "level")?;
                let epoch = r.u32()?;
                in_range("epoch", epoch.into(), 1, u32::MAX.into())?;
                let state = match r.u8()? {
                    1 => KeyState::Pending,
                    2 => KeyState::Registered,
                    3 => KeyState::Released,
                    _ => return Err(order("unknown key state")),
                };
                let key = KeyringKey { level, epoch, state, secret: Zeroizing::new(r.array()?) };
                if keys.last().is_some_and(|p| (&p.level, p.epoch) >= (&key.level, key.epoch)) {
                    return Err(order("keys out of order"));
                }
                keys.push(key);
            }
            let n = counted(&mut r, "keyring engineer count", MAX_KEYRING_ENGINEERS, MIN_ENGINEER_LEN)?;
            let mut engineers: Vec<(String, [u8; KEY_LEN])> = Vec::with_capacity(n);
            for _ in 0..n {
                let e = (name(&mut r, "engineer")?, r.array()?);
                if engineers.last().is_some_and(|p| p.0 >= e.0) {
                    return Err(order("engineers out of order"));
                }
                engineers.push(e);
            }
            let t = KeyringTenant {
                vault,
                tenant,
                signing_seed,
                last: marks[0],
                proposed: marks[1],
                checkpoint: marks[2],
                keys,
                engineers,
            };
            if tenants.last().is_some_and(|p| (p.vault, &p.tenant) >= (t.vault, &t.tenant)) {
                return Err(order("tenants out of order"));
            }
            tenants.push(t);
        }
        r.finish()?;
        Ok(KeyringBody { tenants })
    }
}

/// A u32 count, within `max` and small enough for the bytes left at `min_len` bytes each.
fn counted(
    r: &mut Reader<'_>,
    field: &'static str,
    max: usize,
    min_len: usize,
) -> Result<usize, FormatError> {
    let count = r.u32()? as usize;
    in_range(field, count as u64, 0, max as u64)?;
    if count.saturating_mul(min_len) > r.remaining() {
        return Err(FormatError::Truncated { what: r.what() });
    }
    Ok(count)
}

fn name(r: &mut Reader<'_>, kind: &'static str) -> Result<String, FormatError> {
    let len = r.u8()? as usize;
    in_range(kind, len as u64, 1, MAX_NAME_LEN as u64)?;
    let s = utf8(kind, r.take(len)?)?;
    check_name(kind, s)?;
    Ok(s.to_owned())
}

/// One tenant an audit monitor watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorTenant {
    /// The vault's id.
    pub vault: [u8; 16],
    /// Tenant.
    pub tenant: String,
    /// The tenant signing key the monitor pinned (its manifests name the monitor key).
    pub signer: [u8; 32],
    /// The last checkpoint the monitor signed: `seq` the chain size, `hash` its head.
    pub mark: ManifestMark,
}

/// The decrypted body of an audit monitor's key file.
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorBody {
    /// Ed25519 seed of the monitor key; zeroized on drop.
    pub seed: Zeroizing<[u8; 32]>,
    /// Tenants sorted strictly by (vault, tenant).
    pub tenants: Vec<MonitorTenant>,
}

impl std::fmt::Debug for MonitorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MonitorBody({} tenants, key redacted)", self.tenants.len())
    }
}

/// Most tenants one monitor watches.
pub const MAX_MONITOR_TENANTS: usize = 4096;
const MIN_MONITOR_TENANT_LEN: usize = 16 + 2 + 32 + 40;

impl MonitorBody {
    /// The canonical encoding, zeroized on drop and allocated once. Tenants must already be
    /// sorted; a count or name over its limit is an error.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, FormatError> {
        let len = 36 + self.tenants.iter().map(|t| 16 + 1 + t.tenant.len() + 32 + 40).sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(len));
        out.extend_from_slice(&self.seed[..]);
        count(&mut out, "monitor tenant count", self.tenants.len(), MAX_MONITOR_TENANTS, Some(()))?;
        for t in &self.tenants {
            out.extend_from_slice(&t.vault);
            put_name(&mut out, &t.tenant)?;
            out.extend_from_slice(&t.signer);
            out.extend_from_slice(&t.mark.seq.to_be_bytes());
            out.extend_from_slice(&t.mark.hash);
        }
        Ok(out)
    }

    /// Decodes a body: tenants sorted strictly, names valid, marks consistent, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<MonitorBody, FormatError> {
        const WHAT: &str = "monitor";
        let order = |why| FormatError::NonCanonical { what: WHAT, why };
        let mut r = Reader::new(bytes, WHAT);
        let seed = Zeroizing::new(r.array()?);
        let count = counted(&mut r, "monitor tenant count", MAX_MONITOR_TENANTS, MIN_MONITOR_TENANT_LEN)?;
        let mut tenants: Vec<MonitorTenant> = Vec::with_capacity(count);
        for _ in 0..count {
            let t = MonitorTenant {
                vault: r.array()?,
                tenant: name(&mut r, "tenant")?,
                signer: r.array()?,
                mark: ManifestMark { seq: r.u64()?, hash: r.array()? },
            };
            if (t.mark.seq == 0) != (t.mark.hash == [0; 32]) {
                return Err(order("a checkpoint mark with a head but no size, or the reverse"));
            }
            if tenants.last().is_some_and(|p| (p.vault, &p.tenant) >= (t.vault, &t.tenant)) {
                return Err(order("tenants out of order"));
            }
            tenants.push(t);
        }
        r.finish()?;
        Ok(MonitorBody { seed, tenants })
    }
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
    /// The canonical encoding, zeroized on drop and allocated once; a name over its limit is
    /// an error.
    pub fn encode(&self) -> Result<Zeroizing<Vec<u8>>, FormatError> {
        let mut out = Zeroizing::new(Vec::with_capacity(1 + self.engineer.len() + KEY_LEN));
        put_name(&mut out, &self.engineer)?;
        out.extend_from_slice(&self.secret[..]);
        Ok(out)
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

/// Checks `n` against `max`; with `Some(())`, appends it as a big-endian u32 (a check alone
/// otherwise, for a total across lists).
fn count(
    out: &mut Vec<u8>,
    field: &'static str,
    n: usize,
    max: usize,
    write: Option<()>,
) -> Result<(), FormatError> {
    super::cursor::in_range(field, n as u64, 0, max as u64)?;
    if write.is_some() {
        // At most `max`, far below 2^32: the cast cannot truncate.
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
#[path = "keyfile_tests.rs"]
mod tests;
