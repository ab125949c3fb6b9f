use thiserror::Error;

/// Why some bytes are not a valid lockbox object. Names the object and the rule it broke.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The bytes end before the object does.
    #[error("{what} is truncated")]
    Truncated {
        /// The object being decoded.
        what: &'static str,
    },
    /// Bytes remain after a complete object.
    #[error("{what} has {extra} trailing byte(s)")]
    TrailingBytes {
        /// The object being decoded.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// The object does not start with its magic bytes.
    #[error("{what}: wrong magic bytes (not a lockbox {what})")]
    BadMagic {
        /// The object being decoded.
        what: &'static str,
    },
    /// A version this build does not know.
    #[error("{what}: unsupported format version {version}")]
    UnsupportedVersion {
        /// The object being decoded.
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// A cipher suite this build does not know.
    #[error("{what}: unsupported cipher suite {suite}")]
    UnsupportedSuite {
        /// The object being decoded.
        what: &'static str,
        /// The suite found.
        suite: u8,
    },
    /// A length or value outside its documented range.
    #[error("{field} is {value}, outside the allowed range {min}..={max}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Reserved bits or bytes are not zero.
    #[error("{what}: reserved bits are set")]
    Reserved {
        /// The object being decoded.
        what: &'static str,
    },
    /// A value that has a single canonical encoding was encoded another way.
    #[error("{what}: non-canonical encoding ({why})")]
    NonCanonical {
        /// The object being decoded.
        what: &'static str,
        /// The rule broken.
        why: &'static str,
    },
    /// A tenant, level, engineer name or item id that breaks the naming rules.
    #[error("invalid {kind} {value:?}: {why}")]
    InvalidName {
        /// tenant, level, engineer, item id.
        kind: &'static str,
        /// The offending value, escaped for display.
        value: String,
        /// The rule broken.
        why: &'static str,
    },
}
