//! Human and JSON output.

use lockbox::store::records::TenantRecord;
use lockbox::vault::ItemInfo;
use serde_json::{Value, json};

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
                .map(|e| json!({"epoch": e.epoch, "fingerprint": hex(&lockbox::crypto::fingerprint(&e.public)), "created": time(e.created)}))
                .collect();
            json!({"name": l.name, "current_epoch": l.epochs.last().map(|e| e.epoch), "epochs": epochs})
        })
        .collect();
    json!({
        "name": t.name, "created": time(t.created), "levels": levels,
        "max_access_secs": t.max_access_secs, "request_ttl_secs": t.request_ttl_secs,
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
        println!("{out}");
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
