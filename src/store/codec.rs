//! The one codec for internal records: bincode 2.0.1 (pinned; see docs/DESIGN.md) through
//! serde, always decoded with a byte limit and with trailing bytes refused.

use bincode::config::{self, Configuration};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Largest internal record accepted, in bytes. Item chunks are not records and are bounded
/// by the envelope's chunk size instead.
pub const MAX_RECORD_LEN: usize = 1 << 20;

fn config() -> Configuration<config::BigEndian, config::Fixint, config::Limit<MAX_RECORD_LEN>> {
    config::standard().with_big_endian().with_fixed_int_encoding().with_limit::<MAX_RECORD_LEN>()
}

/// Encodes a record.
pub fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    let bytes = bincode::serde::encode_to_vec(value, config())
        .map_err(|e| StoreError::Encode { what, detail: e.to_string() })?;
    if bytes.len() > MAX_RECORD_LEN {
        return Err(StoreError::Encode { what, detail: format!("{} bytes is over the limit", bytes.len()) });
    }
    Ok(bytes)
}

/// Decodes a record: the whole slice, no more and no less, within the limit.
pub fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |detail: String| StoreError::CorruptRecord { what, detail };
    if bytes.len() > MAX_RECORD_LEN {
        return Err(corrupt(format!("{} bytes is over the limit", bytes.len())));
    }
    let (value, used) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| corrupt(e.to_string()))?;
    if used != bytes.len() {
        return Err(corrupt(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::TenantRecord;

    #[test]
    fn round_trip_and_strictness() {
        let t = TenantRecord {
            name: "acme".into(),
            created: 5,
            levels: vec![],
            signer: [3; 32],
            manifest: "note".into(),
            checkpoint: String::new(),
        };
        let mut bytes = encode("tenant", &t).unwrap();
        assert_eq!(decode::<TenantRecord>("tenant", &bytes).unwrap(), t);
        bytes.push(0);
        assert!(decode::<TenantRecord>("tenant", &bytes).is_err());
        // A string length that claims more than the limit is refused, not allocated.
        let mut huge = vec![0u8; 8];
        huge[0] = 0x7f;
        assert!(decode::<TenantRecord>("tenant", &huge).is_err());
    }

    /// The records' byte fields are encoded through serde_bytes for speed; the bytes must be
    /// the ones a plain sequence of u8 gives, so that existing vaults still decode.
    #[test]
    fn byte_fields_keep_the_sequence_encoding() {
        use crate::store::records::ItemRecord;
        #[derive(serde::Serialize)]
        struct Plain {
            header: Vec<u8>,
            size: u64,
            created: u64,
            blob: [u8; 16],
            chunks: u64,
            inline: Option<Vec<u8>>,
        }
        for inline in [None, Some(vec![]), Some(vec![7u8; 300])] {
            let record = ItemRecord {
                header: (0..200u8).collect(),
                size: 3,
                created: 4,
                blob: [9; 16],
                chunks: 1,
                inline: inline.clone(),
            };
            let plain = Plain {
                header: record.header.clone(),
                size: 3,
                created: 4,
                blob: [9; 16],
                chunks: 1,
                inline,
            };
            let bytes = encode("item", &record).unwrap();
            assert_eq!(bytes, encode("plain", &plain).unwrap());
            assert_eq!(decode::<ItemRecord>("item", &bytes).unwrap(), record);
        }
    }
}
