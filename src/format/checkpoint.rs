//! An audit checkpoint: the body of a `checkpoint` signed note (docs/FORMAT.md, "Audit
//! checkpoint"), the customer's or its monitor's.

use super::manifest::{kind, parse_origin};
use super::note::{Lines, hex_array, number};
use super::{FormatError, hex};

/// A checkpoint of a tenant's audit chain: the customer states that the chain had `size`
/// entries, the last with hash `head`, when it had checked them.
///
/// ```text
/// lockbox.v1 checkpoint
/// origin lockbox.v1/<vault id>/<tenant>
/// size <entries in the tenant's chain>
/// head <hash of its last entry, 64 hex; zeros when size is 0>
/// time <unix seconds>
/// manifest <seq> <SHA-256 of the manifest's note, 64 hex>     (optional)
/// ```
/// The `manifest` line names the tenant's newest manifest in the chain it covers: a monitor's
/// checkpoint always has it (writers require it to bound how stale a manifest they accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Origin.
    pub origin: String,
    /// Entries in the tenant's chain.
    pub size: u64,
    /// Hash of the last one.
    pub head: [u8; 32],
    /// When it was signed.
    pub time: u64,
    /// The newest manifest in the chain it covers: (sequence number, hash of its note).
    pub manifest: Option<(u64, [u8; 32])>,
}

const CHECKPOINT: &str = "checkpoint";

impl Checkpoint {
    /// The kind line.
    pub const KIND: &'static str = "lockbox.v1 checkpoint";

    /// The body text.
    pub fn encode(&self) -> String {
        let manifest =
            self.manifest.map_or(String::new(), |(seq, h)| format!("manifest {seq} {}\n", hex(&h)));
        format!(
            "{}\norigin {}\nsize {}\nhead {}\ntime {}\n{manifest}",
            Self::KIND,
            self.origin,
            self.size,
            hex(&self.head),
            self.time
        )
    }

    /// Decodes a body; canonical as [`super::Manifest::decode`].
    pub fn decode(body: &str) -> Result<Checkpoint, FormatError> {
        let mut lines = Lines::new(body, CHECKPOINT)?;
        lines.expect("lockbox.v1", 1).and_then(|f| kind(f[0], CHECKPOINT))?;
        let origin = lines.expect("origin", 1)?[0].to_owned();
        parse_origin(CHECKPOINT, &origin)?;
        let size = number(CHECKPOINT, lines.expect("size", 1)?[0])?;
        let head = hex_array(CHECKPOINT, lines.expect("head", 1)?[0])?;
        let time = number(CHECKPOINT, lines.expect("time", 1)?[0])?;
        let manifest = if lines.next_is("manifest") {
            let f = lines.expect("manifest", 2)?;
            let seq = number(CHECKPOINT, f[0])?;
            if seq == 0 {
                return Err(FormatError::NonCanonical {
                    what: CHECKPOINT,
                    why: "manifest sequence numbers start at 1",
                });
            }
            Some((seq, hex_array(CHECKPOINT, f[1])?))
        } else {
            None
        };
        lines.finish()?;
        let c = Checkpoint { origin, size, head, time, manifest };
        if (c.size == 0) != (c.head == [0; 32]) {
            return Err(FormatError::NonCanonical {
                what: CHECKPOINT,
                why: "an empty chain has a zero head, and only it",
            });
        }
        if c.encode() != body {
            return Err(FormatError::NonCanonical { what: CHECKPOINT, why: "not the canonical text" });
        }
        Ok(c)
    }
}
