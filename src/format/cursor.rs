//! A byte cursor over untrusted input, in the manner of rustls' `codec::Reader`.

use super::FormatError;

/// Reads big-endian integers and length-prefixed fields from a byte slice, never reading past
/// its end, and checks at the end that nothing is left over.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the object in error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    /// What is being decoded, for errors.
    pub fn what(&self) -> &'static str {
        self.what
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(FormatError::Truncated { what: self.what })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self) -> Result<u16, FormatError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A field written by [`super::Writer::field`]: a length prefix of `width`, checked
    /// against `max` before anything is read, then the bytes.
    pub fn field(
        &mut self,
        field: &'static str,
        width: super::Len,
        max: usize,
    ) -> Result<&'a [u8], FormatError> {
        let n = match width {
            super::Len::U8 => u64::from(self.u8()?),
            super::Len::U16 => u64::from(self.u16()?),
            super::Len::U32 => u64::from(self.u32()?),
        };
        in_range(field, n, 0, max as u64)?;
        self.take(n as usize)
    }

    /// A list count written by [`super::Writer::count`], checked against `max` and against the
    /// bytes left (each element takes at least `min_len` bytes), so a caller can allocate it.
    pub fn count(&mut self, field: &'static str, max: usize, min_len: usize) -> Result<usize, FormatError> {
        let n = self.u32()? as usize;
        in_range(field, n as u64, 0, max as u64)?;
        if n.saturating_mul(min_len.max(1)) > self.remaining() {
            return Err(FormatError::Truncated { what: self.what });
        }
        Ok(n)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Ends decoding: an error if any byte is left over.
    pub fn finish(self) -> Result<(), FormatError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(FormatError::TrailingBytes { what: self.what, extra }),
        }
    }
}

/// Checks `value` against `min..=max`, naming `field` if it is outside.
pub fn in_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), FormatError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(FormatError::OutOfRange { field, value, min, max })
    }
}

/// Decodes UTF-8 text, naming the field if it is not.
pub fn utf8<'a>(kind: &'static str, bytes: &'a [u8]) -> Result<&'a str, FormatError> {
    std::str::from_utf8(bytes).map_err(|_| FormatError::InvalidName {
        kind,
        value: String::from_utf8_lossy(bytes).into_owned(),
        why: "not valid UTF-8",
    })
}
