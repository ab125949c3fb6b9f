//! Human and JSON output.

use std::io::{self, Write};
use std::sync::Mutex;

use lockbox::store::records::TenantRecord;
use lockbox::vault::ItemInfo;
use serde_json::{Value, json};

/// The first error writing standard output (a reader that went away, a full disk). Printing
/// goes on as a no-op after it, so a command still finishes its work and cleans up; `main`
/// then exits quietly for a closed pipe, or reports the error.
static STDOUT_FAILED: Mutex<Option<io::ErrorKind>> = Mutex::new(None);

/// Prints a line on standard output like `println!`, without panicking when it cannot.
macro_rules! outln {
    () => { $crate::cli::output::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::output::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use outln;

/// Writes to standard output, remembering the first failure instead of panicking.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
    if failed.is_none()
        && let Err(e) = io::stdout().lock().write_fmt(args)
    {
        *failed = Some(e.kind());
    }
}

/// The first error that writing standard output met, if any.
pub fn stdout_failure() -> Option<io::ErrorKind> {
    let _ = io::stdout().lock().flush().map_err(|e| {
        let mut failed = STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert(e.kind());
    });
    *STDOUT_FAILED.lock().unwrap_or_else(|p| p.into_inner())
}

/// A duration in seconds for a person: `4h`, `1h 30m`, `27m 5s`.
pub fn duration(secs: u64) -> String {
    lockbox::format::duration(secs)
}

/// How long until `at`, from `now`: "in 27m" or "ended".
pub fn remaining(at: u64, now: u64) -> String {
    match at.checked_sub(now) {
        Some(left) if left > 0 => duration(left),
        _ => "-".into(),
    }
}

/// Seconds since the Unix epoch as RFC 3339 UTC.
pub fn time(secs: u64) -> String {
    lockbox::format::rfc3339(secs)
}

pub use lockbox::format::hex;

/// An item as JSON.
pub fn item_json(i: &ItemInfo) -> Value {
    json!({
        "tenant": i.tenant, "item": i.item, "level": i.level, "epoch": i.epoch,
        "key_epoch": i.key_epoch, "size": i.size, "created": time(i.created),
    })
}

/// A tenant as JSON.
pub fn tenant_json(t: &TenantRecord) -> Value {
    let levels: Vec<Value> = t
        .levels
        .iter()
        .map(|l| {
            let epochs: Vec<Value> = l
                .epochs
                .iter()
                .map(|e| json!({"epoch": e.epoch, "public": hex(&e.public), "fingerprint": hex(&lockbox::crypto::fingerprint(&e.public)), "created": time(e.created)}))
                .collect();
            json!({"name": l.name, "current_epoch": l.epochs.last().map(|e| e.epoch), "epochs": epochs})
        })
        .collect();
    // The policy is the manifest's (a record whose manifest does not parse shows none).
    let policy = lockbox::vault::policy(t).ok();
    json!({
        "name": t.name, "created": time(t.created), "levels": levels,
        "max_access_secs": policy.map(|p| p.max_access_secs),
        "request_ttl_secs": policy.map(|p| p.request_ttl_secs),
        "signing_key_fingerprint": hex(&lockbox::crypto::tenant_fingerprint(&t.signer)),
        "signing_key": hex(&t.signer), "manifest": t.manifest, "checkpoint": t.checkpoint,
    })
}

/// Prints rows as aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let n = cells.len();
        let mut out = String::new();
        for (i, (cell, w)) in cells.into_iter().zip(&widths).enumerate() {
            out.push_str(cell);
            if i + 1 < n {
                out.push_str(&" ".repeat(w - cell.chars().count() + 2));
            }
        }
        outln!("{out}");
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// A control character (newlines included) or a bidirectional control: what could make printed
/// text look like other text.
pub fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Free text from the vault made safe to print on one line: control characters (newlines
/// included), bidirectional controls and backslashes are escaped, so no text can look like
/// another field or another row.
pub fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if unsafe_char(c) || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `N` bytes of hex (either case), or a usage error naming `what`.
pub fn parse_hex<const N: usize>(what: &str, text: &str) -> Result<[u8; N], lockbox::vault::Error> {
    let bad = || lockbox::vault::Error::usage(format!("{what} {text:?} is not {} hex digits", 2 * N));
    if text.len() != 2 * N || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// A file the user named that cannot be opened.
pub fn open_error(path: &std::path::Path, e: io::Error) -> lockbox::vault::Error {
    let msg = format!("cannot open {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::NotFound => lockbox::vault::Error::not_found(msg),
        _ => lockbox::vault::Error::other(msg),
    }
}
