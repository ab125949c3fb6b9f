//! Audit entries for people and scripts: the text and JSON of each typed event. Nothing here
//! is read back; checks use the events themselves.

use lockbox::audit::{Entry, Event};
use lockbox::format::{Closed, Logged, duration, hex, size};
use serde_json::{Value, json};

use super::output::escaped;

/// An entry's detail for a person, on one line: escaped and cut to `max` characters, so no
/// entry can look like two.
pub fn detail(e: &Entry, max: usize) -> String {
    let text = escaped(&text(e));
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

fn short(hash: &[u8]) -> String {
    hex(hash)[..16].to_owned()
}

fn closed(c: &Closed) -> String {
    let ids = |ids: &[[u8; 16]], total: u64| {
        let listed = ids.iter().map(|id| hex(id)).collect::<Vec<_>>().join(",");
        match total.saturating_sub(ids.len() as u64) {
            0 => listed,
            more => format!("{listed} and {more} more"),
        }
    };
    format!(
        "{} grant(s) revoked [{}]; {} request(s) denied [{}]",
        c.grants_total,
        ids(&c.grants_revoked, c.grants_total),
        c.requests_total,
        ids(&c.requests_denied, c.requests_total)
    )
}

fn listed(items: &[Logged]) -> String {
    listed_count(items.len())
}

/// How many ids an entry lists, for `--verbose` to show (nothing when it lists none).
fn listed_count(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!(" ({n} ids: --verbose lists them)"),
    }
}

fn text(e: &Entry) -> String {
    use Event::*;
    match &e.event {
        TenantCreate { levels } => format!("levels {}", levels.join(",")),
        TenantPolicy { max_access_secs, request_ttl_secs } => {
            format!("max access {}, request ttl {}", duration(*max_access_secs), duration(*request_ttl_secs))
        }
        TenantDelete { items_erased, closed: c } => format!("{items_erased} item(s) erased; {}", closed(c)),
        AcceptRestore { restored_seq, lost_first, lost_last, levels_rotated } => format!(
            "restored at manifest seq {restored_seq}; manifests {lost_first}..={lost_last} lost; {levels_rotated} level(s) rotated"
        ),
        Manifest { note } => {
            format!(
                "signed manifest seq {}, sha256 {}",
                e.subject,
                short(&lockbox::crypto::sha256(note.as_bytes()))
            )
        }
        LevelAdd { epoch } => format!("epoch {epoch}"),
        LevelRotate { epoch, count, items } => {
            format!("new epoch {epoch}; {count} item(s) re-wrapped{}", listed(items))
        }
        LevelRotateItems { items } | ImportItems { items } => format!("continued{}", listed(items)),
        Put(w) | PutRaw(w) => format!(
            "level {} epoch {} size {}{}; manifest {}; header {}",
            w.level,
            w.epoch,
            size(w.size),
            if w.replaced { " (replaced)" } else { "" },
            short(&w.manifest),
            short(&w.header)
        ),
        Get { level, key_epoch } => format!("level {level} epoch {key_epoch}"),
        GetRaw | Rm => String::new(),
        GetDenied { why } | GetFailed { why } => why.clone(),
        Import { level, epoch, manifest, count, items } => {
            format!(
                "{count} item(s) at level {level}, epoch {epoch}; manifest {}{}",
                short(manifest),
                listed(items)
            )
        }
        ImportSkipped { count, dir } => format!("{count} entries of {dir} not imported"),
        Export { total, dir } => format!("{total} item(s) of the tenant, to {dir}"),
        ExportWritten { written, total, dir, ids } => {
            let listed = match &ids.list {
                Some(list) => listed_count(list.len()),
                None => " (too many to log)".to_owned(),
            };
            format!(
                "{written} of {total} item(s) written to {dir}; ids sha256 {}{listed}",
                short(&ids.digest)
            )
        }
        ExportSkipped { count } => format!("{count} item(s) not exported"),
        Backup { to } => format!("to {to}"),
        BackupFailed { to, why } => format!("{to}: {why}"),
        RequestCreate { levels, case_id, duration_secs, reason } => {
            format!(
                "levels {}; case {case_id}; {}; reason: {reason}",
                levels.join(","),
                duration(*duration_secs)
            )
        }
        RequestApprove { grant, engineer, levels, duration_secs } => {
            let released: Vec<String> = levels.iter().map(|(l, e)| format!("{l}@1..{e}")).collect();
            format!(
                "grant {} to {engineer}: {} for {}",
                hex(grant),
                released.join(","),
                duration(*duration_secs)
            )
        }
        RequestDeny { reason } => reason.clone(),
        GrantRevoke { engineer } => format!("engineer {engineer}"),
        EngineerEnroll { fingerprint } => format!("key {}", hex(fingerprint)),
        EngineerRemove { closed: c } => closed(c),
    }
}

/// The item ids an entry lists (writes in bulk, re-wraps, exports), for `--verbose`.
pub fn ids(e: &Entry) -> Vec<&str> {
    match &e.event {
        Event::ExportWritten { ids, .. } => ids.list.iter().flatten().map(String::as_str).collect(),
        event => event.logged_items().iter().map(|l| l.item.as_str()).collect(),
    }
}

/// An entry as JSON: its fields, the event's typed fields under `event`, and the text a person
/// reads under `detail`.
pub fn json(e: &Entry) -> Value {
    json!({
        "seq": e.seq,
        "time": lockbox::format::rfc3339(e.time),
        "unix_time": e.time,
        "actor": e.actor,
        "action": e.action(),
        "tenant": e.tenant,
        "subject": e.subject,
        "detail": text(e),
        "event": event_json(&e.event),
        "prev": hex(&e.prev),
        "chain": e.chain,
        "chain_prev": hex(&e.chain_prev),
        "hash": hex(&e.hash),
    })
}

fn logged_json(items: &[Logged]) -> Value {
    items.iter().map(|l| json!({"item": l.item, "header_sha256": hex(&l.header)})).collect()
}

fn closed_json(c: &Closed) -> Value {
    let ids = |ids: &[[u8; 16]]| ids.iter().map(|id| hex(id)).collect::<Vec<_>>();
    json!({
        "grants_revoked": ids(&c.grants_revoked), "grants_total": c.grants_total,
        "requests_denied": ids(&c.requests_denied), "requests_total": c.requests_total,
    })
}

fn event_json(event: &Event) -> Value {
    use Event::*;
    match event {
        TenantCreate { levels } => json!({ "levels": levels }),
        TenantPolicy { max_access_secs, request_ttl_secs } => {
            json!({"max_access_secs": max_access_secs, "request_ttl_secs": request_ttl_secs})
        }
        TenantDelete { items_erased, closed } => {
            json!({"items_erased": items_erased, "closed": closed_json(closed)})
        }
        AcceptRestore { restored_seq, lost_first, lost_last, levels_rotated } => json!({
            "restored_seq": restored_seq, "lost_first": lost_first, "lost_last": lost_last,
            "levels_rotated": levels_rotated,
        }),
        Manifest { note } => json!({ "note": note }),
        LevelAdd { epoch } => json!({ "epoch": epoch }),
        LevelRotate { epoch, count, items } => {
            json!({"epoch": epoch, "count": count, "items": logged_json(items)})
        }
        LevelRotateItems { items } | ImportItems { items } => json!({ "items": logged_json(items) }),
        Put(w) | PutRaw(w) => json!({
            "level": w.level, "epoch": w.epoch, "size": w.size, "replaced": w.replaced,
            "manifest_sha256": hex(&w.manifest), "header_sha256": hex(&w.header),
        }),
        Get { level, key_epoch } => json!({"level": level, "key_epoch": key_epoch}),
        GetRaw | Rm => json!({}),
        GetDenied { why } | GetFailed { why } => json!({ "why": why }),
        Import { level, epoch, manifest, count, items } => json!({
            "level": level, "epoch": epoch, "manifest_sha256": hex(manifest), "count": count,
            "items": logged_json(items),
        }),
        ImportSkipped { count, dir } => json!({"count": count, "dir": dir}),
        Export { total, dir } => json!({"total": total, "dir": dir}),
        ExportWritten { written, total, dir, ids } => json!({
            "written": written, "total": total, "dir": dir, "ids_sha256": hex(&ids.digest), "ids": ids.list,
        }),
        ExportSkipped { count } => json!({ "count": count }),
        Backup { to } => json!({ "to": to }),
        BackupFailed { to, why } => json!({"to": to, "why": why}),
        RequestCreate { levels, case_id, duration_secs, reason } => json!({
            "levels": levels, "case_id": case_id, "duration_secs": duration_secs, "reason": reason,
        }),
        RequestApprove { grant, engineer, levels, duration_secs } => json!({
            "grant": hex(grant), "engineer": engineer,
            "levels": levels.iter().map(|(l, e)| json!({"level": l, "through_epoch": e})).collect::<Vec<_>>(),
            "duration_secs": duration_secs,
        }),
        RequestDeny { reason } => json!({ "reason": reason }),
        GrantRevoke { engineer } => json!({ "engineer": engineer }),
        EngineerEnroll { fingerprint } => json!({ "fingerprint": hex(fingerprint) }),
        EngineerRemove { closed } => json!({ "closed": closed_json(closed) }),
    }
}
