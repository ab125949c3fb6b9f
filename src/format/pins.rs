//! The writer's trust store: which tenant signing key each (vault, tenant) is pinned to, and
//! the highest manifest sequence number seen, so a vault rolled back is noticed.
//!
//! ```text
//! <vault id, 32 hex> <tenant> <tenant key fingerprint, 64 hex> <highest manifest seq seen>
//!     <SHA-256 of that manifest's note, 64 hex; zeros when none was seen>\n
//! ```
//! (one line, fields separated by single spaces) One line per pin, sorted strictly by
//! (vault id, tenant); at most [`MAX_PINS`] lines.

use super::note::{hex_array, number};
use super::{FormatError, check_name, hex};

/// Most pins a trust store holds.
pub const MAX_PINS: usize = 65_536;
/// Longest line: 32 + 63 + 64 + 20 + 64 characters, 4 spaces and the newline.
const MAX_LINE_LEN: usize = 32 + 63 + 64 + 20 + 64 + 5;
/// Largest trust store file, in bytes.
pub const MAX_PINS_LEN: usize = MAX_PINS * MAX_LINE_LEN;
const WHAT: &str = "trust store";

/// One pinned tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinLine {
    /// Vault id.
    pub vault: [u8; 16],
    /// Tenant.
    pub tenant: String,
    /// Fingerprint of the tenant's signing key.
    pub fingerprint: [u8; 32],
    /// Highest manifest sequence number seen.
    pub seen: u64,
    /// Hash of the manifest seen at that sequence number.
    pub seen_hash: [u8; 32],
}

/// Encodes pins, which must be sorted by (vault, tenant).
pub fn encode_pins(pins: &[PinLine]) -> String {
    pins.iter()
        .map(|p| {
            format!(
                "{} {} {} {} {}\n",
                hex(&p.vault),
                p.tenant,
                hex(&p.fingerprint),
                p.seen,
                hex(&p.seen_hash)
            )
        })
        .collect()
}

/// Decodes a trust store: every line as above, sorted, nothing else.
pub fn decode_pins(text: &str) -> Result<Vec<PinLine>, FormatError> {
    if text.len() > MAX_PINS_LEN {
        return Err(FormatError::OutOfRange {
            field: "trust store length",
            value: text.len() as u64,
            min: 0,
            max: MAX_PINS_LEN as u64,
        });
    }
    let mut out: Vec<PinLine> = Vec::new();
    if text.is_empty() {
        return Ok(out);
    }
    let body =
        text.strip_suffix('\n').ok_or(FormatError::NonCanonical { what: WHAT, why: "no final newline" })?;
    for line in body.split('\n') {
        if out.len() == MAX_PINS {
            return Err(FormatError::OutOfRange {
                field: "trust store lines",
                value: MAX_PINS as u64 + 1,
                min: 0,
                max: MAX_PINS as u64,
            });
        }
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() != 5 {
            return Err(FormatError::NonCanonical { what: WHAT, why: "a line is not 5 fields" });
        }
        check_name("tenant", f[1])?;
        let pin = PinLine {
            vault: hex_array(WHAT, f[0])?,
            tenant: f[1].to_owned(),
            fingerprint: hex_array(WHAT, f[2])?,
            seen: number(WHAT, f[3])?,
            seen_hash: hex_array(WHAT, f[4])?,
        };
        if (pin.seen == 0) != (pin.seen_hash == [0; 32]) {
            return Err(FormatError::NonCanonical {
                what: WHAT,
                why: "a seen manifest without its hash, or the reverse",
            });
        }
        if out.last().is_some_and(|p| (p.vault, &p.tenant) >= (pin.vault, &pin.tenant)) {
            return Err(FormatError::NonCanonical { what: WHAT, why: "lines not sorted, or a tenant twice" });
        }
        out.push(pin);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_disorder() {
        let a = PinLine {
            vault: [1; 16],
            tenant: "acme".into(),
            fingerprint: [2; 32],
            seen: 3,
            seen_hash: [4; 32],
        };
        let b = PinLine { tenant: "beta".into(), ..a.clone() };
        let text = encode_pins(&[a.clone(), b.clone()]);
        assert_eq!(decode_pins(&text).unwrap(), vec![a.clone(), b.clone()]);
        assert!(decode_pins(&encode_pins(&[b, a.clone()])).is_err());
        assert!(decode_pins(&encode_pins(&[a.clone(), a])).is_err());
        assert!(decode_pins(&text.replace(" 3 ", " 03 ")).is_err());
        assert!(decode_pins(&text.replace(" 3 ", " 0 ")).is_err(), "a hash with nothing seen");
        assert!(decode_pins(text.trim_end()).is_err());
    }
}
