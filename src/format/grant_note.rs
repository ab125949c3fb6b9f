//! The customer's signed statement of a grant: the body of a `grant` signed note
//! (docs/FORMAT.md, "Signed grant").

use super::MAX_GRANT_KEYS;
use super::manifest::{epoch, kind, parse_origin, too_many};
use super::note::{Lines, hex_array, number};
use super::{FormatError, check_name, hex};

/// A grant as the customer signs it: what was released, to which key, under which manifests.
///
/// ```text
/// lockbox.v1 grant
/// origin lockbox.v1/<vault id>/<tenant>
/// grant <grant id, 32 hex>
/// request <request id, 32 hex>
/// digest <the request digest the customer approved, 64 hex>
/// engineer <name> <engineer key fingerprint, 32 hex>
/// not-after <unix seconds>
/// manifest-before <SHA-256 of the manifest note it was approved under, 64 hex>
/// manifest-after <SHA-256 of the manifest note committed with it, 64 hex>
/// key <level> <epoch> <level key fingerprint, 32 hex>     (1 to 4096, sorted by level then epoch)
/// blobs <SHA-256 over the key blobs, each u32 BE length + bytes, in record order, 64 hex>
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantNote {
    /// Origin.
    pub origin: String,
    /// Grant id.
    pub grant: [u8; 16],
    /// Request id.
    pub request: [u8; 16],
    /// The request digest (see docs/FORMAT.md).
    pub digest: [u8; 32],
    /// Engineer name.
    pub engineer: String,
    /// Engineer X25519 key fingerprint.
    pub engineer_fingerprint: [u8; 16],
    /// Expiry.
    pub not_after: u64,
    /// Manifest hash before the approval.
    pub manifest_before: [u8; 32],
    /// Manifest hash after it (the released levels rotated).
    pub manifest_after: [u8; 32],
    /// (level, epoch, level key fingerprint) released.
    pub keys: Vec<(String, u32, [u8; 16])>,
    /// Hash of the key blobs.
    pub blobs: [u8; 32],
}

const GRANT: &str = "signed grant";

impl GrantNote {
    /// The kind line.
    pub const KIND: &'static str = "lockbox.v1 grant";

    /// The body text.
    pub fn encode(&self) -> String {
        let mut out = format!(
            "{}\norigin {}\ngrant {}\nrequest {}\ndigest {}\nengineer {} {}\nnot-after {}\nmanifest-before {}\nmanifest-after {}\n",
            Self::KIND,
            self.origin,
            hex(&self.grant),
            hex(&self.request),
            hex(&self.digest),
            self.engineer,
            hex(&self.engineer_fingerprint),
            self.not_after,
            hex(&self.manifest_before),
            hex(&self.manifest_after),
        );
        for (level, epoch, fp) in &self.keys {
            out += &format!("key {level} {epoch} {}\n", hex(fp));
        }
        out += &format!("blobs {}\n", hex(&self.blobs));
        out
    }

    /// Decodes a body; canonical as [`super::Manifest::decode`].
    pub fn decode(body: &str) -> Result<GrantNote, FormatError> {
        let mut lines = Lines::new(body, GRANT)?;
        lines.expect("lockbox.v1", 1).and_then(|f| kind(f[0], "grant"))?;
        let origin = lines.expect("origin", 1)?[0].to_owned();
        parse_origin(GRANT, &origin)?;
        let grant = hex_array(GRANT, lines.expect("grant", 1)?[0])?;
        let request = hex_array(GRANT, lines.expect("request", 1)?[0])?;
        let digest = hex_array(GRANT, lines.expect("digest", 1)?[0])?;
        let e = lines.expect("engineer", 2)?;
        check_name("engineer", e[0])?;
        let (engineer, engineer_fingerprint) = (e[0].to_owned(), hex_array(GRANT, e[1])?);
        let not_after = number(GRANT, lines.expect("not-after", 1)?[0])?;
        let manifest_before = hex_array(GRANT, lines.expect("manifest-before", 1)?[0])?;
        let manifest_after = hex_array(GRANT, lines.expect("manifest-after", 1)?[0])?;
        let mut keys: Vec<(String, u32, [u8; 16])> = Vec::new();
        while lines.next_is("key") {
            if keys.len() == MAX_GRANT_KEYS {
                return Err(too_many("grant keys", 1, MAX_GRANT_KEYS));
            }
            let f = lines.expect("key", 3)?;
            check_name("level", f[0])?;
            let key = (f[0].to_owned(), epoch(f[1])?, hex_array(GRANT, f[2])?);
            if keys.last().is_some_and(|p| (&p.0, p.1) >= (&key.0, key.1)) {
                return Err(FormatError::NonCanonical { what: GRANT, why: "keys not sorted" });
            }
            keys.push(key);
        }
        let blobs = hex_array(GRANT, lines.expect("blobs", 1)?[0])?;
        lines.finish()?;
        let g = GrantNote {
            origin,
            grant,
            request,
            digest,
            engineer,
            engineer_fingerprint,
            not_after,
            manifest_before,
            manifest_after,
            keys,
            blobs,
        };
        if g.keys.is_empty() {
            return Err(FormatError::NonCanonical { what: GRANT, why: "no keys" });
        }
        if g.encode() != body {
            return Err(FormatError::NonCanonical { what: GRANT, why: "not the canonical text" });
        }
        Ok(g)
    }
}
