//! A grant key blob: one level-epoch private key wrapped to an engineer's public key.
//!
//! ```text
//! offset size field
//!      0    4 magic "LBXG"
//!      4    1 version (1)
//!      5    1 suite (1)
//!      6    2 reserved, zero
//!      8   16 grant id
//!     24    4 epoch of the released level key, >= 1
//!     28    8 expiry, seconds since the Unix epoch
//!     36   16 fingerprint of the engineer's public key
//!     52   16 fingerprint of the released level public key
//!     68    1 tenant length, 1..=63
//!     69    1 level length, 1..=63
//!     70    1 engineer length, 1..=63
//!     71    1 reserved, zero
//!     72   32 ephemeral X25519 public key, not all-zero
//!    104   48 wrapped level private key
//!    152    . tenant, level, engineer
//! ```

use super::cursor::{Reader, in_range, utf8};
use super::envelope::put_name;
use super::{
    ENVELOPE_VERSION, FINGERPRINT_LEN, FormatError, KEY_LEN, MAX_NAME_LEN,
    SUITE_X25519_HKDF_SHA256_AES256GCM, WRAPPED_KEY_LEN, check_name,
};

const MAGIC: [u8; 4] = *b"LBXG";
const FIXED_LEN: usize = 152;
const WHAT: &str = "grant key blob";

/// Everything a grant key wrap binds: a wrapped key moved to another grant, tenant, level,
/// epoch, engineer or expiry no longer opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantKeyContext {
    /// The grant this key belongs to.
    pub grant_id: [u8; 16],
    /// Tenant of the level.
    pub tenant: String,
    /// The released level.
    pub level: String,
    /// The released epoch of that level.
    pub epoch: u32,
    /// The engineer the key is wrapped to.
    pub engineer: String,
    /// When the grant ends, seconds since the Unix epoch.
    pub expires: u64,
    /// Fingerprint of the engineer's public key.
    pub engineer_fingerprint: [u8; FINGERPRINT_LEN],
    /// Fingerprint of the released level public key.
    pub level_fingerprint: [u8; FINGERPRINT_LEN],
}

impl GrantKeyContext {
    /// Canonical bytes bound into the wrap; a name over its limit is an error.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::with_capacity(256);
        out.push(ENVELOPE_VERSION);
        out.push(SUITE_X25519_HKDF_SHA256_AES256GCM);
        out.extend_from_slice(&self.grant_id);
        put_name(&mut out, &self.tenant)?;
        put_name(&mut out, &self.level)?;
        out.extend_from_slice(&self.epoch.to_be_bytes());
        put_name(&mut out, &self.engineer)?;
        out.extend_from_slice(&self.expires.to_be_bytes());
        out.extend_from_slice(&self.engineer_fingerprint);
        out.extend_from_slice(&self.level_fingerprint);
        Ok(out)
    }
}

/// A wrapped level key as stored in the vault for an engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantKeyBlob {
    /// What the wrap binds.
    pub context: GrantKeyContext,
    /// Ephemeral X25519 public key of the wrap.
    pub ephemeral: [u8; KEY_LEN],
    /// The level private key, wrapped.
    pub wrapped: [u8; WRAPPED_KEY_LEN],
}

impl GrantKeyBlob {
    /// The canonical encoding; a name over its limit is an error.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let c = &self.context;
        let name = |field, value: &str| {
            in_range(field, value.len() as u64, 1, MAX_NAME_LEN as u64).map(|()| value.len() as u8)
        };
        let lengths = [name("tenant length", &c.tenant)?, name("level length", &c.level)?];
        let engineer = name("engineer length", &c.engineer)?;
        let mut out = Vec::with_capacity(FIXED_LEN + 3 * MAX_NAME_LEN);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[ENVELOPE_VERSION, SUITE_X25519_HKDF_SHA256_AES256GCM, 0, 0]);
        out.extend_from_slice(&c.grant_id);
        out.extend_from_slice(&c.epoch.to_be_bytes());
        out.extend_from_slice(&c.expires.to_be_bytes());
        out.extend_from_slice(&c.engineer_fingerprint);
        out.extend_from_slice(&c.level_fingerprint);
        out.extend_from_slice(&lengths);
        out.extend_from_slice(&[engineer, 0]);
        out.extend_from_slice(&self.ephemeral);
        out.extend_from_slice(&self.wrapped);
        out.extend_from_slice(c.tenant.as_bytes());
        out.extend_from_slice(c.level.as_bytes());
        out.extend_from_slice(c.engineer.as_bytes());
        Ok(out)
    }

    /// Decodes exactly one blob.
    pub fn decode(bytes: &[u8]) -> Result<GrantKeyBlob, FormatError> {
        let mut r = Reader::new(bytes, WHAT);
        if r.array::<4>()? != MAGIC {
            return Err(FormatError::BadMagic { what: WHAT });
        }
        let version = r.u8()?;
        if version != ENVELOPE_VERSION {
            return Err(FormatError::UnsupportedVersion { what: WHAT, version });
        }
        let suite = r.u8()?;
        if suite != SUITE_X25519_HKDF_SHA256_AES256GCM {
            return Err(FormatError::UnsupportedSuite { what: WHAT, suite });
        }
        if r.u16()? != 0 {
            return Err(FormatError::Reserved { what: WHAT });
        }
        let grant_id = r.array()?;
        let epoch = r.u32()?;
        in_range("epoch", epoch.into(), 1, u32::MAX.into())?;
        let expires = r.u64()?;
        let engineer_fingerprint = r.array()?;
        let level_fingerprint = r.array()?;
        let mut lens = [0usize; 3];
        for (len, field) in lens.iter_mut().zip(["tenant length", "level length", "engineer length"]) {
            *len = r.u8()? as usize;
            in_range(field, *len as u64, 1, MAX_NAME_LEN as u64)?;
        }
        if r.u8()? != 0 {
            return Err(FormatError::Reserved { what: WHAT });
        }
        let ephemeral: [u8; KEY_LEN] = r.array()?;
        if ephemeral == [0; KEY_LEN] {
            return Err(FormatError::NonCanonical { what: WHAT, why: "all-zero ephemeral key" });
        }
        let wrapped = r.array()?;
        let tenant = utf8("tenant", r.take(lens[0])?)?.to_owned();
        let level = utf8("level", r.take(lens[1])?)?.to_owned();
        let engineer = utf8("engineer", r.take(lens[2])?)?.to_owned();
        r.finish()?;
        check_name("tenant", &tenant)?;
        check_name("level", &level)?;
        check_name("engineer", &engineer)?;
        let context = GrantKeyContext {
            grant_id,
            tenant,
            level,
            epoch,
            engineer,
            expires,
            engineer_fingerprint,
            level_fingerprint,
        };
        Ok(GrantKeyBlob { context, ephemeral, wrapped })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_trailing_bytes() {
        let blob = GrantKeyBlob {
            context: GrantKeyContext {
                grant_id: [1; 16],
                tenant: "acme".into(),
                level: "internal".into(),
                epoch: 3,
                engineer: "eve".into(),
                expires: 1_900_000_000,
                engineer_fingerprint: [2; 16],
                level_fingerprint: [3; 16],
            },
            ephemeral: [4; 32],
            wrapped: [5; 48],
        };
        let mut bytes = blob.encode().unwrap();
        assert_eq!(GrantKeyBlob::decode(&bytes).unwrap(), blob);
        bytes.push(0);
        assert!(matches!(GrantKeyBlob::decode(&bytes), Err(FormatError::TrailingBytes { .. })));
    }

    #[test]
    fn a_name_over_its_limit_is_refused_not_cut() {
        let context = GrantKeyContext {
            grant_id: [1; 16],
            tenant: "acme".into(),
            level: "internal".into(),
            epoch: 3,
            engineer: "e".repeat(256),
            expires: 1_900_000_000,
            engineer_fingerprint: [2; 16],
            level_fingerprint: [3; 16],
        };
        assert!(context.encode().is_err());
        let blob = GrantKeyBlob { context, ephemeral: [4; 32], wrapped: [5; 48] };
        assert!(matches!(blob.encode(), Err(FormatError::OutOfRange { .. })));
    }
}
