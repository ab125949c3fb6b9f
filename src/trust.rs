//! The writer's trust store, kept outside the vault: for each (vault id, tenant), the
//! fingerprint of the tenant signing key the writer pinned, and the highest manifest sequence
//! number it has seen. A writer encrypts only to a manifest that this key signed and that is
//! no older than what it saw before. Format: docs/FORMAT.md, [`crate::format::decode_pins`].

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use thiserror::Error;

use crate::format::{FormatError, MAX_PINS, MAX_PINS_LEN, PinLine, decode_pins, encode_pins};

/// Why the trust store could not be used.
#[derive(Debug, Error)]
pub enum TrustError {
    /// The file is not a valid trust store.
    #[error("{} is not a valid lockbox trust store: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The rule broken.
        source: FormatError,
    },
    /// The store is full.
    #[error("{} already holds the maximum of {MAX_PINS} pins", path.display())]
    Full {
        /// The file.
        path: PathBuf,
    },
    /// An I/O error on the file.
    #[error("cannot access trust store {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// One pinned tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// Fingerprint of the tenant signing key.
    pub fingerprint: [u8; 32],
    /// Highest manifest sequence number seen.
    pub seen: u64,
    /// Hash of the manifest seen at that sequence number (zeros when none).
    pub seen_hash: [u8; 32],
}

type Entries = BTreeMap<([u8; 16], String), Pin>;

/// A trust store: in memory only, or backed by a file that every change rewrites atomically.
#[derive(Debug)]
pub struct Pins {
    path: Option<PathBuf>,
    entries: Mutex<Entries>,
}

impl Pins {
    /// An empty store kept in memory (tests, and a library user who pins in code).
    pub fn in_memory() -> Pins {
        Pins { path: None, entries: Mutex::new(BTreeMap::new()) }
    }

    /// The store in `path`; a missing file is an empty store, created on the first pin.
    pub fn open(path: &Path) -> Result<Pins, TrustError> {
        let entries = read(path)?;
        Ok(Pins { path: Some(path.to_owned()), entries: Mutex::new(entries) })
    }

    /// The file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The pin of `tenant` of vault `vault`.
    pub fn get(&self, vault: &[u8; 16], tenant: &str) -> Option<Pin> {
        self.lock().get(&(*vault, tenant.to_owned())).copied()
    }

    /// Pins `tenant` of `vault` to `fingerprint` (replacing another; the highest sequence seen
    /// is kept only when the key is the same) and saves.
    pub fn pin(&self, vault: &[u8; 16], tenant: &str, fingerprint: [u8; 32]) -> Result<(), TrustError> {
        self.change(|entries| {
            let key = (*vault, tenant.to_owned());
            let same = entries.get(&key).filter(|p| p.fingerprint == fingerprint).copied();
            let (seen, seen_hash) = same.map_or((0, [0; 32]), |p| (p.seen, p.seen_hash));
            entries.insert(key, Pin { fingerprint, seen, seen_hash });
        })
    }

    /// Records that the manifest with sequence number `seq` and hash `hash` was seen (raising,
    /// never lowering).
    pub fn saw(&self, vault: &[u8; 16], tenant: &str, seq: u64, hash: [u8; 32]) -> Result<(), TrustError> {
        if self.get(vault, tenant).is_none_or(|p| p.seen >= seq) {
            return Ok(());
        }
        self.change(|entries| {
            if let Some(p) = entries.get_mut(&(*vault, tenant.to_owned()))
                && p.seen < seq
            {
                (p.seen, p.seen_hash) = (seq, hash);
            }
        })
    }

    /// Applies `f` to what the file holds now (another process may have changed it) and saves.
    fn change(&self, f: impl FnOnce(&mut Entries)) -> Result<(), TrustError> {
        let mut entries = self.lock();
        if let Some(path) = &self.path {
            let on_disk = read(path)?;
            for (k, v) in on_disk {
                let mine = entries.entry(k).or_insert(v);
                if mine.fingerprint == v.fingerprint && v.seen > mine.seen {
                    (mine.seen, mine.seen_hash) = (v.seen, v.seen_hash);
                }
            }
        }
        f(&mut entries);
        let Some(path) = &self.path else { return Ok(()) };
        if entries.len() > MAX_PINS {
            return Err(TrustError::Full { path: path.clone() });
        }
        let lines: Vec<PinLine> = entries
            .iter()
            .map(|((vault, tenant), p)| PinLine {
                vault: *vault,
                tenant: tenant.clone(),
                fingerprint: p.fingerprint,
                seen: p.seen,
                seen_hash: p.seen_hash,
            })
            .collect();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| TrustError::Io { path: path.clone(), source })?;
        }
        crate::atomic::write_file(path, |w| w.write_all(encode_pins(&lines).as_bytes()))
            .map_err(|failed| TrustError::Io { path: path.clone(), source: failed.into() })
    }
}

fn read(path: &Path) -> Result<Entries, TrustError> {
    let io_err = |source| TrustError::Io { path: path.to_owned(), source };
    let text = match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(io_err(e)),
        Ok(m) if m.len() > MAX_PINS_LEN as u64 => {
            let source = FormatError::OutOfRange {
                field: "trust store length",
                value: m.len(),
                min: 0,
                max: MAX_PINS_LEN as u64,
            };
            return Err(TrustError::Malformed { path: path.to_owned(), source });
        }
        Ok(_) => std::fs::read(path).map_err(io_err)?,
    };
    let text = String::from_utf8(text).map_err(|_| TrustError::Malformed {
        path: path.to_owned(),
        source: FormatError::NonCanonical { what: "trust store", why: "not UTF-8" },
    })?;
    let lines =
        decode_pins(&text).map_err(|source| TrustError::Malformed { path: path.to_owned(), source })?;
    Ok(lines
        .into_iter()
        .map(|p| {
            ((p.vault, p.tenant), Pin { fingerprint: p.fingerprint, seen: p.seen, seen_hash: p.seen_hash })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_persist_and_seen_only_rises() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/trust");
        let pins = Pins::open(&path).unwrap();
        pins.pin(&[1; 16], "acme", [2; 32]).unwrap();
        pins.saw(&[1; 16], "acme", 5, [5; 32]).unwrap();
        pins.saw(&[1; 16], "acme", 3, [3; 32]).unwrap();
        let again = Pins::open(&path).unwrap();
        assert_eq!(
            again.get(&[1; 16], "acme"),
            Some(Pin { fingerprint: [2; 32], seen: 5, seen_hash: [5; 32] })
        );
        assert_eq!(again.get(&[9; 16], "acme"), None);
        again.pin(&[1; 16], "acme", [3; 32]).unwrap();
        assert_eq!(
            Pins::open(&path).unwrap().get(&[1; 16], "acme").unwrap().seen,
            0,
            "a new key starts over"
        );
    }
}
