//! Human and JSON output.

use lockbox::store::records::TenantRecord;
use lockbox::vault::ItemInfo;
use serde_json::{Value, json};

/// Seconds since the Unix epoch as RFC 3339 UTC (days-from-civil, inverted).
pub fn time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times_in_utc() {
        assert_eq!(super::time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::time(1_795_868_705), "2026-11-28T12:25:05Z");
    }
}
