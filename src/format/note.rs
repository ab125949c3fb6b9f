//! Signed notes (C2SP signed-note): a text body, an empty line, then one signature line
//! `— <key name> <base64(key hash || signature)>`. Every signed statement of lockbox
//! (manifest, grant) is one, its first body line naming the kind, so a signature over one
//! kind never passes as another.
//!
//! Stricter than C2SP allows, on purpose: exactly one signature line; body lines are
//! non-empty printable ASCII (0x20..=0x7E); the whole note is at most [`MAX_NOTE_LEN`] bytes.

use base64ct::{Base64, Encoding};

use super::FormatError;

/// Largest signed note accepted, in bytes.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
const WHAT: &str = "signed note";
const DASH: &str = "\u{2014} ";

/// A signed note, parsed but not verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text: every body line, each ending in `\n`.
    pub body: String,
    /// The key name of the signature line (lockbox: the origin).
    pub name: String,
    /// The first 4 bytes of the key's hash (`crypto::note_key_hash`).
    pub key_hash: [u8; 4],
    /// The Ed25519 signature of `body`.
    pub signature: [u8; 64],
}

impl SignedNote {
    /// The note's text.
    pub fn encode(&self) -> String {
        let mut sig = [0u8; 68];
        sig[..4].copy_from_slice(&self.key_hash);
        sig[4..].copy_from_slice(&self.signature);
        format!("{}\n{DASH}{} {}\n", self.body, self.name, Base64::encode_string(&sig))
    }

    /// Parses a note: one body, one signature line, nothing else.
    pub fn decode(text: &str) -> Result<SignedNote, FormatError> {
        let bad = |why| FormatError::NonCanonical { what: WHAT, why };
        if text.len() > MAX_NOTE_LEN {
            return Err(FormatError::OutOfRange {
                field: "signed note length",
                value: text.len() as u64,
                min: 1,
                max: MAX_NOTE_LEN as u64,
            });
        }
        let split = text.rfind("\n\n").ok_or(bad("no empty line before the signature"))?;
        let (body, sig_line) = (&text[..split + 1], &text[split + 2..]);
        check_body(body)?;
        let line = sig_line.strip_suffix('\n').ok_or(bad("the signature line does not end in a newline"))?;
        let line = line.strip_prefix(DASH).ok_or(bad("the signature line does not start with an em dash"))?;
        let (name, sig) = line.split_once(' ').ok_or(bad("the signature line has no signature"))?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad("the key name is empty or not printable ASCII without spaces"));
        }
        let mut raw = [0u8; 68];
        let decoded =
            Base64::decode(sig, &mut raw).map_err(|_| bad("the signature is not canonical base64"))?;
        if decoded.len() != 68 {
            return Err(bad("the signature is not 4 + 64 bytes"));
        }
        let note = SignedNote {
            body: body.to_owned(),
            name: name.to_owned(),
            key_hash: raw[..4].try_into().map_err(|_| bad("key hash"))?,
            signature: raw[4..].try_into().map_err(|_| bad("signature"))?,
        };
        if note.encode() != text {
            return Err(bad("more than one signature line, or a non-canonical one"));
        }
        Ok(note)
    }
}

/// Checks a body: one or more lines, each non-empty printable ASCII ending in `\n`.
pub fn check_body(body: &str) -> Result<(), FormatError> {
    let bad = |why| FormatError::NonCanonical { what: WHAT, why };
    let inner = body.strip_suffix('\n').ok_or(bad("the body does not end in a newline"))?;
    for line in inner.split('\n') {
        if line.is_empty() {
            return Err(bad("an empty line in the body"));
        }
        if !line.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(bad("a body line holds a byte outside printable ASCII"));
        }
    }
    Ok(())
}

/// Reads a body line by line, each `keyword field field ...` separated by single spaces.
pub struct Lines<'a> {
    lines: std::iter::Peekable<std::str::Split<'a, char>>,
    what: &'static str,
}

impl<'a> Lines<'a> {
    /// Lines of a checked body (see [`check_body`]).
    pub fn new(body: &'a str, what: &'static str) -> Result<Lines<'a>, FormatError> {
        check_body(body)?;
        let inner = &body[..body.len() - 1];
        Ok(Lines { lines: inner.split('\n').peekable(), what })
    }

    /// The next line, which must start with `keyword` and have exactly `count` fields after it.
    pub fn expect(&mut self, keyword: &str, count: usize) -> Result<Vec<&'a str>, FormatError> {
        let what = self.what;
        let line = self.lines.next().ok_or(FormatError::Truncated { what })?;
        let mut fields = line.split(' ');
        if fields.next() != Some(keyword) {
            return Err(FormatError::NonCanonical { what, why: "a line is missing or out of order" });
        }
        let rest: Vec<&str> = fields.collect();
        if rest.len() != count || rest.iter().any(|f| f.is_empty()) {
            return Err(FormatError::NonCanonical { what, why: "a line has the wrong number of fields" });
        }
        Ok(rest)
    }

    /// Whether the next line starts with `keyword `.
    pub fn next_is(&mut self, keyword: &str) -> bool {
        self.lines.peek().is_some_and(|l| l.split(' ').next() == Some(keyword))
    }

    /// Fails if any line is left.
    pub fn finish(mut self) -> Result<(), FormatError> {
        match self.lines.next() {
            None => Ok(()),
            Some(_) => Err(FormatError::NonCanonical { what: self.what, why: "unexpected lines at the end" }),
        }
    }
}

/// A decimal u64 with no sign and no leading zeros.
pub fn number(what: &'static str, text: &str) -> Result<u64, FormatError> {
    let bad = FormatError::NonCanonical { what, why: "a number is not canonical decimal" };
    if text.is_empty()
        || (text.len() > 1 && text.starts_with('0'))
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad);
    }
    text.parse().map_err(|_| bad)
}

/// Exactly `N` bytes as lower-case hex.
pub fn hex_array<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N], FormatError> {
    let bad = FormatError::NonCanonical { what, why: "a hex field has the wrong length or case" };
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(bad);
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad.clone())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note() -> SignedNote {
        SignedNote {
            body: "lockbox.v1 manifest\nseq 1\n".into(),
            name: "lockbox.v1/00/acme".into(),
            key_hash: [1, 2, 3, 4],
            signature: [9; 64],
        }
    }

    #[test]
    fn round_trips_and_refuses_every_variation() {
        let text = note().encode();
        assert_eq!(SignedNote::decode(&text).unwrap(), note());
        let two = format!("{text}{}", text.lines().last().unwrap());
        for bad in [
            text.replace("\n\n", "\n"),
            text.replace("seq 1\n", "seq 1\n\n"),
            text.replace('\u{2014}', "-"),
            text.trim_end().to_owned(),
            format!("{two}\n"),
            text.replace("seq", "s\teq"),
            text.replace("lockbox.v1/00/acme ", "lockbox.v1/00/acme  "),
        ] {
            assert!(SignedNote::decode(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_and_hex_are_canonical() {
        assert_eq!(number("n", "0").unwrap(), 0);
        assert_eq!(number("n", "120").unwrap(), 120);
        for bad in ["", "01", "+1", "1 ", "18446744073709551616"] {
            assert!(number("n", bad).is_err(), "{bad}");
        }
        assert_eq!(hex_array::<2>("h", "0aff").unwrap(), [10, 255]);
        assert!(hex_array::<2>("h", "0AFF").is_err());
        assert!(hex_array::<2>("h", "0af").is_err());
    }
}
