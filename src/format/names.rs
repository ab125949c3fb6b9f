//! Naming rules shared by the CLI, the store and every decoder.

use super::FormatError;

/// Longest tenant, level or engineer name, in bytes.
pub const MAX_NAME_LEN: usize = 63;
/// Longest item id, in bytes of UTF-8.
pub const MAX_ITEM_ID_LEN: usize = 1024;

/// Checks a tenant, level or engineer name: `[a-z0-9][a-z0-9-]{0,62}`. `kind` names it in errors.
pub fn check_name(kind: &'static str, name: &str) -> Result<(), FormatError> {
    let bad = |why| FormatError::InvalidName { kind, value: name.escape_debug().to_string(), why };
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(bad("must not be empty"));
    }
    if bytes.len() > MAX_NAME_LEN {
        return Err(bad("longer than 63 bytes"));
    }
    if !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-') {
        return Err(bad("only a-z, 0-9 and '-' are allowed"));
    }
    if bytes[0] == b'-' {
        return Err(bad("must start with a letter or digit"));
    }
    Ok(())
}

/// Checks an item id: 1 to 1024 bytes of UTF-8 with no control characters.
pub fn check_item_id(id: &str) -> Result<(), FormatError> {
    let bad = |why| FormatError::InvalidName {
        kind: "item id",
        value: id.chars().take(64).collect::<String>().escape_debug().to_string(),
        why,
    };
    if id.is_empty() {
        return Err(bad("must not be empty"));
    }
    if id.len() > MAX_ITEM_ID_LEN {
        return Err(bad("longer than 1024 bytes"));
    }
    if id.chars().any(char::is_control) {
        return Err(bad("control characters are not allowed"));
    }
    Ok(())
}

/// Longest segment of an item id between two `/`, in bytes: a file name on common file systems.
pub const MAX_ITEM_SEGMENT_LEN: usize = 255;

/// Checks the id of an item being written: [`check_item_id`], and a relative path that `export`
/// can write as a file under its directory on any common file system: segments separated by
/// `/`, none empty (no leading, trailing or doubled `/`), none `.` or `..`, each at most 255
/// bytes. Decoders apply only [`check_item_id`], so items written before this rule still read.
pub fn check_item_path(id: &str) -> Result<(), FormatError> {
    check_item_id(id)?;
    let bad = |why| FormatError::InvalidName {
        kind: "item id",
        value: id.chars().take(64).collect::<String>().escape_debug().to_string(),
        why,
    };
    for segment in id.split('/') {
        match segment {
            "" => {
                return Err(bad(
                    "must be a relative path without empty parts (no leading, trailing or doubled '/')",
                ));
            }
            "." | ".." => return Err(bad("must not contain '.' or '..' as a path part")),
            s if s.len() > MAX_ITEM_SEGMENT_LEN => return Err(bad("has a path part longer than 255 bytes")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_pattern() {
        for ok in ["a", "0", "confidential", "a-b-9", &"x".repeat(63)] {
            assert!(check_name("level", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", "é", &"x".repeat(64)] {
            assert!(check_name("level", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn item_ids_allow_paths_but_not_control_characters() {
        assert!(check_item_id("reports/2026/q3.pdf").is_ok());
        assert!(check_item_id("ünïcode ok").is_ok());
        assert!(check_item_id(&"x".repeat(1024)).is_ok());
        assert!(check_item_id("").is_err());
        assert!(check_item_id("a\nb").is_err());
        assert!(check_item_id("a\u{7f}").is_err());
        assert!(check_item_id(&"x".repeat(1025)).is_err());
    }

    #[test]
    fn new_item_ids_are_relative_paths_export_can_write() {
        for ok in ["a", "reports/2026/q3.pdf", "a b/c", ".hidden", "x..y", &"x".repeat(255)] {
            assert!(check_item_path(ok).is_ok(), "{ok}");
        }
        let long = format!("{}/b", "x".repeat(256));
        for bad in ["/abs", "dir/", "a//b", "../up", "a/./b", "a/..", ".", "", &long, "a\nb"] {
            assert!(check_item_path(bad).is_err(), "{bad}");
        }
    }
}
