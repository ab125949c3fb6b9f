//! The writer's trust store: which tenant signing key each (vault, tenant) is pinned to, the
//! highest manifest sequence number seen, so a vault rolled back is noticed, and where that
//! vault was found, so a vault swapped for another at the same place is noticed.
//!
//! ```text
//! <vault id, 32 hex> <tenant> <tenant key fingerprint, 64 hex> <highest manifest seq seen>
//!     <SHA-256 of that manifest's note, 64 hex; zeros when none was seen> [<place>]\n
//! ```
//! (one line, fields separated by single spaces) One line per pin, sorted strictly by
//! (vault id, tenant); at most [`MAX_PINS`] lines. The place (where the vault was opened: its
//! directory's canonical path) is percent-encoded ([`encode_place`]); a line without it (files
//! written before places were kept) is a pin not yet bound to a place.

use super::note::{hex_array, number};
use super::{FormatError, check_name, hex};

/// Most pins a trust store holds.
pub const MAX_PINS: usize = 65_536;
/// Longest place, in bytes before encoding (Linux's PATH_MAX).
pub const MAX_PLACE_LEN: usize = 4096;
/// Largest trust store file, in bytes: room for [`MAX_PINS`] lines with places of a typical
/// length (a line is at most 32 + 63 + 64 + 20 + 64 characters, 3 per byte of its place, 5
/// spaces and the newline).
pub const MAX_PINS_LEN: usize = 64 << 20;
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
    /// Where the vault was found (raw bytes of the place; see [`encode_place`]), if known.
    pub place: Option<Vec<u8>>,
}

/// A place as the trust store writes it: bytes `!`..`~` other than `%` as they are, every
/// other byte as `%` and two upper-case hex digits. One encoding per place, no spaces.
pub fn encode_place(place: &[u8]) -> String {
    let mut out = String::with_capacity(place.len());
    for &b in place {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The inverse of [`encode_place`], refusing any other spelling (lower-case hex, a byte
/// escaped that need not be, an empty place, one longer than [`MAX_PLACE_LEN`]).
pub fn decode_place(text: &str) -> Result<Vec<u8>, FormatError> {
    let bad = |why| FormatError::NonCanonical { what: WHAT, why };
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let digits = text.get(i + 1..i + 3).ok_or(bad("a place ends inside an escape"))?;
            if !digits.bytes().all(|d| d.is_ascii_digit() || (b'A'..=b'F').contains(&d)) {
                return Err(bad("a place's escape is not two upper-case hex digits"));
            }
            out.push(u8::from_str_radix(digits, 16).map_err(|_| bad("a place's escape is not hex"))?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
        if out.len() > MAX_PLACE_LEN {
            return Err(FormatError::OutOfRange {
                field: "place length",
                value: out.len() as u64,
                min: 1,
                max: MAX_PLACE_LEN as u64,
            });
        }
    }
    if out.is_empty() || encode_place(&out) != text {
        return Err(bad("a place is empty or not in its one encoding"));
    }
    Ok(out)
}

/// Encodes pins, which must be sorted by (vault, tenant).
pub fn encode_pins(pins: &[PinLine]) -> String {
    pins.iter()
        .map(|p| {
            let place = p.place.as_ref().map_or(String::new(), |place| format!(" {}", encode_place(place)));
            format!(
                "{} {} {} {} {}{place}\n",
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
        if f.len() != 5 && f.len() != 6 {
            return Err(FormatError::NonCanonical { what: WHAT, why: "a line is not 5 or 6 fields" });
        }
        check_name("tenant", f[1])?;
        let pin = PinLine {
            vault: hex_array(WHAT, f[0])?,
            tenant: f[1].to_owned(),
            fingerprint: hex_array(WHAT, f[2])?,
            seen: number(WHAT, f[3])?,
            seen_hash: hex_array(WHAT, f[4])?,
            place: f.get(5).map(|p| decode_place(p)).transpose()?,
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
            place: None,
        };
        let b = PinLine { tenant: "beta".into(), place: Some(b"/srv/v 1%\n".to_vec()), ..a.clone() };
        assert!(encode_pins(std::slice::from_ref(&b)).ends_with(" /srv/v%201%25%0A\n"));
        let text = encode_pins(&[a.clone(), b.clone()]);
        assert_eq!(decode_pins(&text).unwrap(), vec![a.clone(), b.clone()]);
        assert!(decode_pins(&encode_pins(&[b, a.clone()])).is_err());
        assert!(decode_pins(&encode_pins(&[a.clone(), a])).is_err());
        assert!(decode_pins(&text.replace(" 3 ", " 03 ")).is_err());
        assert!(decode_pins(&text.replace(" 3 ", " 0 ")).is_err(), "a hash with nothing seen");
        assert!(decode_pins(text.trim_end()).is_err());
        for bad in ["", "%0a", "%2", "a%41", "%", "/srv/v%201%25%0A "] {
            assert!(decode_place(bad).is_err(), "{bad:?}");
        }
        assert!(decode_place(&"a".repeat(MAX_PLACE_LEN + 1)).is_err());
        assert_eq!(decode_place(&"a".repeat(MAX_PLACE_LEN)).unwrap().len(), MAX_PLACE_LEN);
    }
}
