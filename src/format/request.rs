//! The bytes a request digest hashes (docs/FORMAT.md, "Request digest"): what the engineer's
//! client and the customer's compute independently, so they must agree byte for byte.

use super::{FormatError, Len, MAX_MANIFEST_LEVELS, Writer};

/// Label that starts the digested bytes.
pub const REQUEST_DIGEST_LABEL: &[u8] = b"lockbox.v1 request digest\0";

/// What a request digest covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestDigestInput<'a> {
    /// The tenant's origin (`lockbox.v1/<vault id>/<tenant>`).
    pub origin: &'a str,
    /// The full request id.
    pub id: &'a [u8; 16],
    /// The engineer's name.
    pub engineer: &'a str,
    /// The fingerprint of the engineer's key.
    pub engineer_fingerprint: &'a [u8; 16],
    /// The requested levels, in any order (they are sorted here).
    pub levels: &'a [String],
    /// The requested duration, seconds.
    pub duration_secs: u64,
    /// The case id.
    pub case_id: &'a str,
    /// SHA-256 of the reason.
    pub reason_sha256: &'a [u8; 32],
}

impl RequestDigestInput<'_> {
    /// The label, then the origin, id, engineer and fingerprint, the levels sorted (u32 count),
    /// the duration (u64), the case id and the reason's hash; strings with u16 lengths. A field
    /// too long for its length is an error, never cut.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let mut w = Writer::new();
        w.raw(REQUEST_DIGEST_LABEL);
        w.field("origin", Len::U16, usize::MAX, self.origin.as_bytes())?;
        w.raw(self.id);
        w.field("engineer", Len::U16, usize::MAX, self.engineer.as_bytes())?;
        w.raw(self.engineer_fingerprint);
        let mut levels: Vec<&String> = self.levels.iter().collect();
        levels.sort();
        w.count("requested levels", levels.len(), MAX_MANIFEST_LEVELS)?;
        for level in levels {
            w.field("level", Len::U16, usize::MAX, level.as_bytes())?;
        }
        w.u64(self.duration_secs);
        w.field("case id", Len::U16, usize::MAX, self.case_id.as_bytes())?;
        w.raw(self.reason_sha256);
        Ok(w.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_sorted_and_an_over_long_field_is_refused() {
        let levels = ["secret".to_string(), "internal".to_string()];
        let input = RequestDigestInput {
            origin: "o",
            id: &[1; 16],
            engineer: "eve",
            engineer_fingerprint: &[2; 16],
            levels: &levels,
            duration_secs: 60,
            case_id: "c",
            reason_sha256: &[3; 32],
        };
        let bytes = input.encode().unwrap();
        let swapped = ["internal".to_string(), "secret".to_string()];
        assert_eq!(RequestDigestInput { levels: &swapped, ..input }.encode().unwrap(), bytes);
        let at = REQUEST_DIGEST_LABEL.len() + 3 + 16 + 5 + 16;
        assert_eq!(bytes[at..at + 4], [0, 0, 0, 2]);
        assert_eq!(&bytes[at + 4..at + 6], &[0, 8]);
        let long = "x".repeat(65_536);
        assert!(RequestDigestInput { case_id: &long, ..input }.encode().is_err());
    }
}
