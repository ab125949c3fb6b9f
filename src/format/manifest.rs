//! Tenant manifests: the body of the customer's signed `manifest` note ([`super::note`]);
//! grants and checkpoints, the other two kinds, are in their own files. Text, one field per line, in a fixed order; a body decodes only if it
//! is exactly what encoding the decoded value gives back.
//!
//! ```text
//! lockbox.v1 manifest
//! origin lockbox.v1/<vault id, 32 hex>/<tenant>
//! seq <n, from 1>
//! prev <SHA-256 of the previous manifest note, 64 hex; zeros at seq 1>
//! issued <unix seconds>
//! expires <unix seconds, after issued>
//! policy <max access secs> <request ttl secs>
//! level <name> <current epoch> <X25519 public key, 64 hex> <released epochs: 1,2 or ->
//! ```
//! One `level` line per level (1 to 64), sorted strictly by name.

use super::note::{Lines, hex_array, number};
use super::{FormatError, KEY_LEN, MAX_NAME_LEN, check_name, hex};

/// Most levels in a manifest (the vault's own limit).
pub const MAX_MANIFEST_LEVELS: usize = 64;
/// Most released epochs listed per level.
pub const MAX_RELEASED: usize = 1024;
/// Most keys a signed grant lists.
pub const MAX_GRANT_KEYS: usize = 4096;

/// The origin of every statement about one tenant of one vault; also the signing key's name.
pub fn origin(vault: &[u8; 16], tenant: &str) -> String {
    format!("lockbox.v1/{}/{tenant}", hex(vault))
}

/// The vault id and tenant an origin names.
pub fn parse_origin(what: &'static str, text: &str) -> Result<([u8; 16], String), FormatError> {
    let bad = FormatError::NonCanonical { what, why: "the origin is not lockbox.v1/<vault id>/<tenant>" };
    let rest = text.strip_prefix("lockbox.v1/").ok_or(bad.clone())?;
    let (vault, tenant) = rest.split_once('/').ok_or(bad)?;
    check_name("tenant", tenant)?;
    Ok((hex_array(what, vault)?, tenant.to_owned()))
}

/// One level as a manifest states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestLevel {
    /// Level name.
    pub name: String,
    /// The current epoch: the only one writers may encrypt to.
    pub epoch: u32,
    /// Its X25519 public key.
    pub public: [u8; KEY_LEN],
    /// Epochs released to engineers so far, ascending.
    pub released: Vec<u32>,
}

/// The audit monitor a manifest names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestMonitor {
    /// The monitor's Ed25519 public key: it may sign audit checkpoints of the tenant, nothing else.
    pub public: [u8; 32],
    /// How often it signs, in seconds: a reader treats a monitor checkpoint older than this as
    /// missing.
    pub interval_secs: u64,
}

/// Shortest monitor interval: one minute.
pub const MIN_MONITOR_INTERVAL: u64 = 60;
/// Longest monitor interval: one day (past that, the manifest's own 7-day life is the bound).
pub const MAX_MONITOR_INTERVAL: u64 = 86_400;

/// What the customer states about a tenant: its levels' current keys, its policy and its audit
/// monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `lockbox.v1/<vault id>/<tenant>`.
    pub origin: String,
    /// Sequence number, from 1; each manifest's is its predecessor's plus one.
    pub seq: u64,
    /// SHA-256 of the previous manifest's whole note; zeros for the first.
    pub prev: [u8; 32],
    /// When it was signed.
    pub issued: u64,
    /// After this, writers refuse it.
    pub expires: u64,
    /// Longest access a grant may give, seconds.
    pub max_access_secs: u64,
    /// How long a request waits, seconds.
    pub request_ttl_secs: u64,
    /// The audit monitor the customer named, if any.
    pub monitor: Option<ManifestMonitor>,
    /// Levels, sorted strictly by name.
    pub levels: Vec<ManifestLevel>,
}

const MANIFEST: &str = "manifest";

impl Manifest {
    /// The kind line.
    pub const KIND: &'static str = "lockbox.v1 manifest";

    /// The body text.
    pub fn encode(&self) -> String {
        let mut out = format!(
            "{}\norigin {}\nseq {}\nprev {}\nissued {}\nexpires {}\npolicy {} {}\n",
            Self::KIND,
            self.origin,
            self.seq,
            hex(&self.prev),
            self.issued,
            self.expires,
            self.max_access_secs,
            self.request_ttl_secs
        );
        if let Some(m) = &self.monitor {
            out += &format!("monitor {} {}\n", hex(&m.public), m.interval_secs);
        }
        for l in &self.levels {
            let released = if l.released.is_empty() {
                "-".to_owned()
            } else {
                l.released.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
            };
            out += &format!("level {} {} {} {released}\n", l.name, l.epoch, hex(&l.public));
        }
        out
    }

    /// Decodes a body: every rule above, and re-encoding gives the same text.
    pub fn decode(body: &str) -> Result<Manifest, FormatError> {
        let mut lines = Lines::new(body, MANIFEST)?;
        lines.expect("lockbox.v1", 1).and_then(|f| kind(f[0], MANIFEST))?;
        let origin = lines.expect("origin", 1)?[0].to_owned();
        parse_origin(MANIFEST, &origin)?;
        let seq = number(MANIFEST, lines.expect("seq", 1)?[0])?;
        let prev = hex_array(MANIFEST, lines.expect("prev", 1)?[0])?;
        let issued = number(MANIFEST, lines.expect("issued", 1)?[0])?;
        let expires = number(MANIFEST, lines.expect("expires", 1)?[0])?;
        let policy = lines.expect("policy", 2)?;
        let (max_access_secs, request_ttl_secs) =
            (number(MANIFEST, policy[0])?, number(MANIFEST, policy[1])?);
        let monitor = if lines.next_is("monitor") {
            let f = lines.expect("monitor", 2)?;
            let interval_secs = number(MANIFEST, f[1])?;
            if !(MIN_MONITOR_INTERVAL..=MAX_MONITOR_INTERVAL).contains(&interval_secs) {
                return Err(FormatError::OutOfRange {
                    field: "monitor interval",
                    value: interval_secs,
                    min: MIN_MONITOR_INTERVAL,
                    max: MAX_MONITOR_INTERVAL,
                });
            }
            Some(ManifestMonitor { public: hex_array(MANIFEST, f[0])?, interval_secs })
        } else {
            None
        };
        let mut levels: Vec<ManifestLevel> = Vec::new();
        while lines.next_is("level") {
            if levels.len() == MAX_MANIFEST_LEVELS {
                return Err(too_many("manifest levels", 1, MAX_MANIFEST_LEVELS));
            }
            let f = lines.expect("level", 4)?;
            check_name("level", f[0])?;
            let level = ManifestLevel {
                name: f[0].to_owned(),
                epoch: epoch(f[1])?,
                public: hex_array(MANIFEST, f[2])?,
                released: released(f[3])?,
            };
            if levels.last().is_some_and(|p| p.name >= level.name) {
                return Err(FormatError::NonCanonical { what: MANIFEST, why: "levels not sorted by name" });
            }
            levels.push(level);
        }
        lines.finish()?;
        let m = Manifest {
            origin,
            seq,
            prev,
            issued,
            expires,
            max_access_secs,
            request_ttl_secs,
            monitor,
            levels,
        };
        let bad = |why| Err(FormatError::NonCanonical { what: MANIFEST, why });
        if m.seq == 0 || (m.seq == 1) != (m.prev == [0; 32]) {
            return bad("seq starts at 1, and only the first manifest has no predecessor");
        }
        if m.expires <= m.issued {
            return bad("it expires before it is issued");
        }
        if m.levels.is_empty() {
            return bad("no levels");
        }
        if m.encode() != body {
            return bad("not the canonical text");
        }
        Ok(m)
    }

    /// The level named `name`.
    pub fn level(&self, name: &str) -> Option<&ManifestLevel> {
        self.levels.iter().find(|l| l.name == name)
    }
}

/// The kind a signed note's body states on its first line (`lockbox.v1 <kind>`).
pub fn note_kind(body: &str) -> Option<&str> {
    body.lines().next()?.strip_prefix("lockbox.v1 ")
}

pub(super) fn kind(found: &str, want: &'static str) -> Result<(), FormatError> {
    if found == want {
        Ok(())
    } else {
        Err(FormatError::NonCanonical { what: "signed note", why: "a statement of another kind" })
    }
}

pub(super) fn epoch(text: &str) -> Result<u32, FormatError> {
    let n = number("epoch", text)?;
    if n == 0 || n > u32::MAX.into() {
        return Err(FormatError::OutOfRange { field: "epoch", value: n, min: 1, max: u32::MAX.into() });
    }
    Ok(n as u32)
}

fn released(text: &str) -> Result<Vec<u32>, FormatError> {
    if text == "-" {
        return Ok(Vec::new());
    }
    let mut out: Vec<u32> = Vec::new();
    for part in text.split(',') {
        if out.len() == MAX_RELEASED {
            return Err(too_many("released epochs", 0, MAX_RELEASED));
        }
        let e = epoch(part)?;
        if out.last().is_some_and(|p| *p >= e) {
            return Err(FormatError::NonCanonical { what: MANIFEST, why: "released epochs not ascending" });
        }
        out.push(e);
    }
    Ok(out)
}

/// A list longer than `max` (found at its `max + 1`-th element); `min` is its own least count.
pub(super) fn too_many(field: &'static str, min: u64, max: usize) -> FormatError {
    FormatError::OutOfRange { field, value: max as u64 + 1, min, max: max as u64 }
}

const _: () = assert!(MAX_NAME_LEN < 64);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Checkpoint, GrantNote};

    pub(crate) fn sample() -> Manifest {
        Manifest {
            origin: origin(&[0xab; 16], "acme"),
            seq: 2,
            prev: [1; 32],
            issued: 100,
            expires: 200,
            max_access_secs: 3600,
            request_ttl_secs: 600,
            monitor: None,
            levels: vec![
                ManifestLevel { name: "public".into(), epoch: 1, public: [2; 32], released: vec![] },
                ManifestLevel { name: "secret".into(), epoch: 3, public: [3; 32], released: vec![1, 2] },
            ],
        }
    }

    #[test]
    fn manifest_round_trips_and_is_canonical() {
        let m = sample();
        let text = m.encode();
        assert_eq!(Manifest::decode(&text).unwrap(), m);
        for bad in [
            text.replace("seq 2", "seq 02"),
            text.replace("level public", "level Public"),
            text.replace("1,2", "2,1"),
            text.replace("1,2", "1,,2"),
            text.replace("expires 200", "expires 100"),
            text.replace("policy 3600 600", "policy 3600"),
            text.replace("lockbox.v1 manifest", "lockbox.v1 grant"),
            format!("{text}level zz 1 {} -\nextra\n", hex(&[0; 32])),
            text.replacen("level secret", "level public", 1),
        ] {
            assert!(Manifest::decode(&bad).is_err(), "{bad}");
        }
        let first = Manifest { seq: 1, ..m.clone() };
        assert!(Manifest::decode(&first.encode()).is_err(), "seq 1 must have zero prev");
    }

    #[test]
    fn a_monitor_line_round_trips_in_its_place_and_range() {
        let m =
            Manifest { monitor: Some(ManifestMonitor { public: [9; 32], interval_secs: 3600 }), ..sample() };
        let text = m.encode();
        assert!(text.contains(&format!("policy 3600 600\nmonitor {} 3600\nlevel ", hex(&[9; 32]))));
        assert_eq!(Manifest::decode(&text).unwrap(), m);
        for bad in [
            text.replace(" 3600\nlevel", " 59\nlevel"),
            text.replace(" 3600\nlevel", " 86401\nlevel"),
            text.replace(" 3600\nlevel", " 03600\nlevel"),
            text.replace(&format!("monitor {}", hex(&[9; 32])), &format!("monitor {}", hex(&[9; 31]))),
        ] {
            assert!(Manifest::decode(&bad).is_err(), "{bad}");
        }
        for edge in [MIN_MONITOR_INTERVAL, MAX_MONITOR_INTERVAL] {
            let m = Manifest {
                monitor: Some(ManifestMonitor { public: [9; 32], interval_secs: edge }),
                ..sample()
            };
            assert_eq!(Manifest::decode(&m.encode()).unwrap(), m, "{edge} is allowed");
        }
        // After the levels, it is not a monitor line of this manifest.
        let moved = text.replace(&format!("monitor {} 3600\n", hex(&[9; 32])), "")
            + &format!("monitor {} 3600\n", hex(&[9; 32]));
        assert!(Manifest::decode(&moved).is_err());
    }

    #[test]
    fn grant_note_round_trips() {
        let g = GrantNote {
            origin: origin(&[1; 16], "acme"),
            grant: [2; 16],
            request: [3; 16],
            digest: [4; 32],
            engineer: "eve".into(),
            engineer_fingerprint: [5; 16],
            not_after: 99,
            manifest_before: [6; 32],
            manifest_after: [7; 32],
            keys: vec![("public".into(), 1, [8; 16]), ("public".into(), 2, [9; 16])],
            blobs: [10; 32],
        };
        let text = g.encode();
        assert_eq!(GrantNote::decode(&text).unwrap(), g);
        assert!(GrantNote::decode(&text.replace("key public 2", "key public 1")).is_err());
        assert!(Manifest::decode(&text).is_err(), "a grant never passes as a manifest");
        assert_eq!(note_kind(&text), Some("grant"));
    }

    #[test]
    fn checkpoint_round_trips_and_is_canonical() {
        let c =
            Checkpoint { origin: origin(&[1; 16], "acme"), size: 3, head: [4; 32], time: 5, manifest: None };
        let text = c.encode();
        assert_eq!(Checkpoint::decode(&text).unwrap(), c);
        let named = Checkpoint { manifest: Some((7, [8; 32])), ..c.clone() };
        let with = named.encode();
        assert!(with.ends_with(&format!("time 5\nmanifest 7 {}\n", hex(&[8; 32]))), "{with}");
        assert_eq!(Checkpoint::decode(&with).unwrap(), named);
        assert!(Checkpoint::decode(&with.replace("manifest 7", "manifest 0")).is_err());
        assert!(Checkpoint::decode(&with.replace("manifest 7", "manifest 07")).is_err());
        assert!(Checkpoint::decode(&with.replace("time 5\n", "")).is_err(), "lines in their order");
        assert!(Checkpoint::decode(&text.replace("size 3", "size 0")).is_err(), "zero size, non-zero head");
        assert!(Checkpoint::decode(&text.replace("time 5", "time 05")).is_err());
        assert!(Manifest::decode(&text).is_err() && GrantNote::decode(&text).is_err());
    }
}
