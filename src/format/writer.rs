//! The writer beside [`super::Reader`]: big-endian integers and length-prefixed fields whose
//! lengths are checked against the prefix and the field's documented limit. An over-long field
//! is an error, never a truncated length.

use super::FormatError;

/// The width of a length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Len {
    /// One byte.
    U8,
    /// Two bytes, big-endian.
    U16,
    /// Four bytes, big-endian.
    U32,
}

impl Len {
    fn max(self) -> usize {
        match self {
            Len::U8 => u8::MAX.into(),
            Len::U16 => u16::MAX.into(),
            Len::U32 => u32::MAX as usize,
        }
    }
}

/// Appends an object's fields to a byte vector.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer { out: Vec::new() }
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_be_bytes());
    }

    /// Bytes as they are, with no length.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    /// `bytes` after a length prefix of `width`; `field` is named if the length is over `max`
    /// or over what the prefix can hold.
    pub fn field(
        &mut self,
        field: &'static str,
        width: Len,
        max: usize,
        bytes: &[u8],
    ) -> Result<(), FormatError> {
        let max = max.min(width.max());
        if bytes.len() > max {
            return Err(FormatError::OutOfRange {
                field,
                value: bytes.len() as u64,
                min: 0,
                max: max as u64,
            });
        }
        // Cannot truncate: the length is at most what the prefix holds.
        match width {
            Len::U8 => self.u8(bytes.len() as u8),
            Len::U16 => self.u16(bytes.len() as u16),
            Len::U32 => self.u32(bytes.len() as u32),
        }
        self.raw(bytes);
        Ok(())
    }

    /// A count of list elements as a big-endian u32, checked against `max`.
    pub fn count(&mut self, field: &'static str, n: usize, max: usize) -> Result<(), FormatError> {
        let max = max.min(u32::MAX as usize);
        if n > max {
            return Err(FormatError::OutOfRange { field, value: n as u64, min: 0, max: max as u64 });
        }
        self.u32(n as u32);
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_long_field_is_an_error_not_a_truncation() {
        let mut w = Writer::new();
        assert!(w.field("name", Len::U8, 1000, &[7; 256]).is_err());
        assert!(w.field("name", Len::U16, 10, &[7; 11]).is_err());
        assert!(w.count("levels", 5, 4).is_err());
        w.field("name", Len::U16, 10, b"abc").unwrap();
        w.count("levels", 4, 4).unwrap();
        assert_eq!(w.into_bytes(), [0, 3, b'a', b'b', b'c', 0, 0, 0, 4]);
    }
}
