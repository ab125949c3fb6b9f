//! The writer's trust store, kept outside the vault: for each (vault id, tenant), the
//! fingerprint of the tenant signing key the writer pinned, the highest manifest sequence
//! number it has seen, and the place (vault directory) where it found that vault. A writer
//! encrypts only to a manifest that this key signed and that is no older than what it saw
//! before; a place that shows another vault id for a tenant pinned there is refused, so a
//! vault swapped for the operator's own never looks like a first use. Format:
//! docs/FORMAT.md, [`crate::format::decode_pins`].

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use thiserror::Error;

use crate::format::{FormatError, MAX_PINS, MAX_PINS_LEN, PinLine, decode_pins, encode_pins, hex};

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
    /// The vault at a place where this tenant was pinned has another id: it was swapped (or
    /// re-created, which only a new pin accepts).
    #[error(
        "the vault at {place} has id {shown}, but tenant {tenant:?} was pinned there in vault {pinned}: the vault was swapped or re-created; nothing was written or read"
    )]
    Swapped {
        /// Where the vault was opened.
        place: String,
        /// The tenant.
        tenant: String,
        /// The vault id pinned at that place (hex).
        pinned: String,
        /// The vault id shown now (hex).
        shown: String,
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

/// A pin and the place its vault was found (none: not yet bound).
type Entries = BTreeMap<([u8; 16], String), (Pin, Option<Vec<u8>>)>;

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

    /// The pin of `tenant` of vault `vault`, found at `place`: none if nothing is pinned, an
    /// error if `tenant` was pinned at `place` in another vault (the one there was swapped).
    pub fn lookup(&self, place: &[u8], vault: &[u8; 16], tenant: &str) -> Result<Option<Pin>, TrustError> {
        let entries = self.lock();
        let elsewhere = entries
            .iter()
            .find(|((v, t), (_, at))| t == tenant && v != vault && at.as_deref() == Some(place));
        if let Some(((pinned, _), _)) = elsewhere {
            return Err(TrustError::Swapped {
                place: String::from_utf8_lossy(place).into_owned(),
                tenant: tenant.to_owned(),
                pinned: hex(pinned),
                shown: hex(vault),
            });
        }
        Ok(entries.get(&(*vault, tenant.to_owned())).map(|(p, _)| *p))
    }

    /// Pins `tenant` of `vault`, found at `place`, to `fingerprint` (replacing another; the
    /// highest sequence seen is kept only when the key is the same) and saves. A pin of
    /// `tenant` in another vault at the same place is unbound from it: this is how a vault
    /// re-created on purpose is accepted.
    pub fn pin(
        &self,
        place: &[u8],
        vault: &[u8; 16],
        tenant: &str,
        fingerprint: [u8; 32],
    ) -> Result<(), TrustError> {
        self.change(|entries| {
            for ((v, t), (_, at)) in entries.iter_mut() {
                if t == tenant && v != vault && at.as_deref() == Some(place) {
                    *at = None;
                }
            }
            let key = (*vault, tenant.to_owned());
            let same = entries.get(&key).map(|(p, _)| *p).filter(|p| p.fingerprint == fingerprint);
            let (seen, seen_hash) = same.map_or((0, [0; 32]), |p| (p.seen, p.seen_hash));
            entries.insert(key, (Pin { fingerprint, seen, seen_hash }, Some(place.to_owned())));
        })
    }

    /// Records that the manifest with sequence number `seq` and hash `hash` was seen (raising,
    /// never lowering), and binds a pin not yet bound to a place to `place`.
    pub fn saw(
        &self,
        place: &[u8],
        vault: &[u8; 16],
        tenant: &str,
        seq: u64,
        hash: [u8; 32],
    ) -> Result<(), TrustError> {
        let key = (*vault, tenant.to_owned());
        if self.lock().get(&key).is_none_or(|(p, at)| p.seen >= seq && at.is_some()) {
            return Ok(());
        }
        self.change(|entries| {
            if let Some((p, at)) = entries.get_mut(&key) {
                if p.seen < seq {
                    (p.seen, p.seen_hash) = (seq, hash);
                }
                if at.is_none() {
                    *at = Some(place.to_owned());
                }
            }
        })
    }

    /// Applies `f` to what the file holds now and saves, holding the file's lock from the
    /// read to the save: two processes that pin at once both keep their pins.
    fn change(&self, f: impl FnOnce(&mut Entries)) -> Result<(), TrustError> {
        let mut entries = self.lock();
        let mut _held = None;
        if let Some(path) = &self.path {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|source| TrustError::Io { path: path.clone(), source })?;
            }
            let lock_path = crate::files::guard_path(path);
            _held = Some(
                crate::files::FileLock::guarding(path, || {})
                    .map_err(|source| TrustError::Io { path: lock_path, source })?,
            );
            let on_disk = read(path)?;
            for (k, (v, at)) in on_disk {
                let (mine, mine_at) = entries.entry(k).or_insert((v, at.clone()));
                if mine.fingerprint == v.fingerprint && v.seen > mine.seen {
                    (mine.seen, mine.seen_hash) = (v.seen, v.seen_hash);
                }
                if mine_at.is_none() {
                    *mine_at = at;
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
            .map(|((vault, tenant), (p, place))| PinLine {
                vault: *vault,
                tenant: tenant.clone(),
                fingerprint: p.fingerprint,
                seen: p.seen,
                seen_hash: p.seen_hash,
                place: place.clone(),
            })
            .collect();
        crate::files::write_file(path, |w| w.write_all(encode_pins(&lines).as_bytes()))
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
            let pin = Pin { fingerprint: p.fingerprint, seen: p.seen, seen_hash: p.seen_hash };
            ((p.vault, p.tenant), (pin, p.place))
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
        pins.pin(b"/v", &[1; 16], "acme", [2; 32]).unwrap();
        pins.saw(b"/v", &[1; 16], "acme", 5, [5; 32]).unwrap();
        pins.saw(b"/v", &[1; 16], "acme", 3, [3; 32]).unwrap();
        let again = Pins::open(&path).unwrap();
        assert_eq!(
            again.lookup(b"/v", &[1; 16], "acme").unwrap(),
            Some(Pin { fingerprint: [2; 32], seen: 5, seen_hash: [5; 32] })
        );
        assert_eq!(again.lookup(b"/w", &[9; 16], "acme").unwrap(), None);
        again.pin(b"/v", &[1; 16], "acme", [3; 32]).unwrap();
        assert_eq!(
            Pins::open(&path).unwrap().lookup(b"/v", &[1; 16], "acme").unwrap().unwrap().seen,
            0,
            "a new key starts over"
        );
    }

    #[test]
    fn another_vault_at_a_pinned_place_is_refused_until_pinned_again() {
        let dir = tempfile::tempdir().unwrap();
        let pins = Pins::open(&dir.path().join("trust")).unwrap();
        pins.pin(b"/v", &[1; 16], "acme", [2; 32]).unwrap();
        let swapped = pins.lookup(b"/v", &[7; 16], "acme").unwrap_err();
        let text = swapped.to_string();
        assert!(text.contains(&hex(&[1u8; 16])) && text.contains(&hex(&[7u8; 16])), "{text}");
        assert_eq!(pins.lookup(b"/v", &[7; 16], "globex").unwrap(), None, "another tenant name");
        assert!(pins.lookup(b"/elsewhere", &[1; 16], "acme").unwrap().is_some(), "the same vault moved");
        pins.pin(b"/v", &[7; 16], "acme", [3; 32]).unwrap();
        assert_eq!(pins.lookup(b"/v", &[7; 16], "acme").unwrap().unwrap().fingerprint, [3; 32]);
        assert!(pins.lookup(b"/v", &[1; 16], "acme").is_err(), "the old vault is now the stranger there");
        assert_eq!(pins.lookup(b"/old", &[1; 16], "acme").unwrap().unwrap().fingerprint, [2; 32]);
    }

    #[test]
    fn a_pin_without_a_place_is_bound_where_it_is_first_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust");
        let line = PinLine {
            vault: [1; 16],
            tenant: "acme".into(),
            fingerprint: [2; 32],
            seen: 0,
            seen_hash: [0; 32],
            place: None,
        };
        std::fs::write(&path, encode_pins(&[line])).unwrap();
        let pins = Pins::open(&path).unwrap();
        assert!(pins.lookup(b"/v", &[7; 16], "acme").unwrap().is_none(), "not bound yet");
        pins.saw(b"/v", &[1; 16], "acme", 1, [1; 32]).unwrap();
        assert!(Pins::open(&path).unwrap().lookup(b"/v", &[7; 16], "acme").is_err(), "bound now");
    }
}
