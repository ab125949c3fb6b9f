//! Engineer, request, grant and audit commands.

use lockbox::audit::Verdict;
use lockbox::customer::Confirmation;
use lockbox::keyring::DEFAULT_KDF;
use lockbox::lockbox::{GrantStatus, NewRequest, RequestStatus, id_hex, request_digest};
use lockbox::store::records::{GrantRecord, RequestRecord};
use lockbox::vault::Error;
use serde_json::{Value, json};

use super::args::{AuditCmd, EngineerCmd, GrantCmd, RequestCmd};
use super::context::Ctx;
use super::output::{duration, escaped, hex, outln, parse_hex, remaining, table, time};
use lockbox::lockbox::Workflow;

pub fn engineer(ctx: &Ctx, cmd: EngineerCmd) -> Result<(), Error> {
    // The new identity's passphrase is asked before the vault is opened.
    let pass = match &cmd {
        EngineerCmd::Enroll { identity, .. } => Some(ctx.new_passphrase(identity)?),
        EngineerCmd::List | EngineerCmd::Remove { .. } | EngineerCmd::Trust { .. } => None,
    };
    if let EngineerCmd::Trust { name, fingerprint, tenant, keyring, .. } = &cmd {
        let fp = parse_hex::<16>("fingerprint", fingerprint)?;
        let mut ring = ctx.keyring(keyring)?;
        let vault = ctx.open_for(&mut ring)?;
        lockbox::customer::trust_engineer(&vault, &mut ring, tenant, name, &fp)?;
        ctx.emit(json!({"engineer": name, "tenant": tenant, "fingerprint": hex(&fp)}), || {
            outln!(
                "keyring {} now pins engineer {name}'s key {} for tenant {tenant}",
                keyring.display(),
                hex(&fp)
            )
        });
        return Ok(());
    }
    let vault = ctx.open()?;
    match cmd {
        EngineerCmd::Enroll { name, identity, .. } => {
            let pass = pass.ok_or_else(|| Error::other("no passphrase"))?;
            let e = Workflow::new(&vault).enroll_engineer(&name, &identity, &pass, DEFAULT_KDF)?;
            let fp = hex(&lockbox::crypto::fingerprint(&e.public));
            ctx.emit(json!({"engineer": name, "fingerprint": fp}), || {
                outln!("enrolled engineer {name} (key {fp}); identity saved to {}", identity.display())
            });
        }
        EngineerCmd::Remove { name } => {
            let r = Workflow::new(&vault).remove_engineer(&name)?;
            ctx.emit(removal_json(&r), || {
                outln!(
                    "removed engineer {name}; {} grant(s) revoked, {} request(s) denied",
                    r.grants_revoked.len(),
                    r.requests_denied.len()
                )
            });
        }
        EngineerCmd::Trust { .. } => {}
        EngineerCmd::List => {
            let all = Workflow::new(&vault).engineers()?;
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|e| vec![e.name.clone(), hex(&lockbox::crypto::fingerprint(&e.public)), time(e.created)])
                .collect();
            let j: Vec<Value> =
                all.iter().map(|e| json!({"engineer": e.name, "fingerprint": hex(&lockbox::crypto::fingerprint(&e.public)), "enrolled": time(e.created)})).collect();
            ctx.emit(json!(j), || table(&["ENGINEER", "KEY FINGERPRINT", "ENROLLED"], &rows));
        }
    }
    Ok(())
}

pub fn removal_json(r: &lockbox::lockbox::Removal) -> Value {
    json!({
        "grants_revoked": r.grants_revoked.iter().map(id_hex).collect::<Vec<_>>(),
        "requests_denied": r.requests_denied.iter().map(id_hex).collect::<Vec<_>>(),
        "items_erased": r.items_erased,
    })
}

fn request_json(r: &RequestRecord, s: RequestStatus) -> Value {
    json!({
        "id": id_hex(&r.id), "tenant": r.tenant, "engineer": r.engineer, "levels": r.levels,
        "reason": r.reason, "case": r.case_id, "duration_secs": r.duration_secs,
        "created": time(r.created), "expires": time(r.expires), "status": s.name(),
        "decided": r.decided.map(time), "decided_by": r.decided_by, "decision_reason": r.decision_reason,
        "grant": r.grant.as_ref().map(id_hex),
    })
}

fn grant_json(g: &GrantRecord, s: GrantStatus, now: u64) -> Value {
    let levels: Vec<Value> =
        g.levels.iter().map(|(l, e)| json!({"level": l, "first_epoch": 1, "last_epoch": e})).collect();
    let remaining = if s == GrantStatus::Active { g.expires.saturating_sub(now) } else { 0 };
    json!({
        "id": id_hex(&g.id), "request": id_hex(&g.request), "tenant": g.tenant, "engineer": g.engineer,
        "levels": levels, "created": time(g.created), "expires": time(g.expires), "approved_by": g.approved_by,
        "access_secs": g.expires.saturating_sub(g.created), "remaining_secs": remaining,
        "revoked": g.revoked.as_ref().map(|(at, by)| json!({"at": time(*at), "by": by})), "status": s.name(),
        "note": g.note, "key_blobs": g.keys.iter().map(|b| hex(b)).collect::<Vec<_>>(),
    })
}

fn status_named(name: &str) -> Option<RequestStatus> {
    [
        RequestStatus::Pending,
        RequestStatus::Approved,
        RequestStatus::Denied,
        RequestStatus::Expired,
        RequestStatus::Revoked,
    ]
    .into_iter()
    .find(|s| s.name() == name)
}

pub fn request(ctx: &Ctx, cmd: RequestCmd) -> Result<(), Error> {
    let vault = || ctx.open();
    match cmd {
        RequestCmd::Create { tenant, identity, levels, reason, case_id, duration, .. } => {
            // The identity's passphrase is asked before the vault is opened.
            let identity = ctx.identity(&identity)?;
            let req = NewRequest {
                tenant: &tenant,
                engineer: &identity.engineer,
                levels: &levels,
                reason: &reason,
                case_id: &case_id,
                duration_secs: duration,
            };
            let vault = vault()?;
            let r = Workflow::new(&vault).file_request(&req, &identity.secret.public().0)?;
            // Computed here, from the engineer's own key, not from what the vault says it is.
            let digest = hex(&request_digest(&vault.id(), &r, &identity.secret.public().0)?);
            let mut j = request_json(&r, RequestStatus::Pending);
            j["digest"] = json!(digest);
            ctx.emit(j, || {
                outln!("{}", id_hex(&r.id));
                outln!("digest {digest}");
                eprintln!("lockbox: give the customer the request id and this digest through the support case; approval releases nothing unless they match");
            });
        }
        RequestCmd::List { tenant, status } => {
            let vault = vault()?;
            let all = Workflow::new(&vault)
                .requests(tenant.as_deref(), status.as_deref().and_then(status_named))?;
            // What each approval released (a subset of what was asked, maybe).
            let grants: std::collections::BTreeMap<[u8; 16], GrantRecord> = Workflow::new(&vault)
                .grants(tenant.as_deref(), None)?
                .into_iter()
                .map(|(g, _)| (g.id, g))
                .collect();
            let granted = |r: &RequestRecord| r.grant.and_then(|g| grants.get(&g));
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|(r, s)| {
                    let levels = granted(r).map_or("-".into(), |g| {
                        g.levels.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(",")
                    });
                    vec![
                        id_hex(&r.id),
                        r.tenant.clone(),
                        r.engineer.clone(),
                        r.levels.join(","),
                        levels,
                        s.name().into(),
                        r.case_id.escape_debug().to_string(),
                        time(r.created),
                    ]
                })
                .collect();
            let j: Vec<Value> = all
                .iter()
                .map(|(r, s)| {
                    let mut j = request_json(r, *s);
                    j["granted_levels"] = json!(granted(r).map(|g| {
                        g.levels.iter().map(|(l, e)| json!({"level": l, "last_epoch": e})).collect::<Vec<_>>()
                    }));
                    j
                })
                .collect();
            ctx.emit(json!(j), || {
                table(
                    &["REQUEST", "TENANT", "ENGINEER", "ASKED", "GRANTED", "STATUS", "CASE", "FILED"],
                    &rows,
                )
            });
        }
        RequestCmd::Show { id } => {
            let vault = vault()?;
            let (r, s) = Workflow::new(&vault).request(&id)?;
            let grant = r.grant.map(|g| Workflow::new(&vault).grant(&id_hex(&g))).transpose()?;
            // No digest here: one computed from what the vault shows would match whatever the
            // vault shows. The customer compares the engineer's own digest (`approve --expect`).
            let engineer = Workflow::new(&vault).engineer(&r.engineer).ok();
            let key_fp = engineer
                .as_ref()
                .map_or("none (not enrolled)".into(), |e| hex(&lockbox::crypto::fingerprint(&e.public)));
            let mut j = request_json(&r, s);
            j["engineer_fingerprint"] = json!(key_fp);
            if let Some((g, gs)) = &grant {
                j["granted"] = grant_json(g, *gs, vault.now());
            }
            ctx.emit(j, || {
                security_block(&r, &key_fp);
                outln!("status    {}", s.name());
                outln!("filed     {}", time(r.created));
                match (r.decided, &r.decided_by) {
                    (Some(at), Some(by)) => {
                        let what = if r.grant.is_some() { "approved" } else { "denied" };
                        outln!("decision  {what} {} by {by}", time(at));
                    }
                    _ if s == RequestStatus::Expired => outln!("expired   {} (undecided)", time(r.expires)),
                    _ => outln!("waits     until {} for a decision", time(r.expires)),
                }
                if let Some((g, gs)) = &grant {
                    outln!("grant     {} ({})", id_hex(&g.id), gs.name());
                    outln!("granted   {} for {}", released(g), duration(g.expires.saturating_sub(g.created)));
                }
                if let Some(why) = &r.decision_reason {
                    outln!("denied    {}", escaped(why));
                }
                outln!("reason    {}", escaped(&r.reason));
            });
        }
        RequestCmd::Approve { id, expect, levels, duration, keyring, .. } => {
            if id.len() != 32 {
                return Err(Error::usage(format!(
                    "approve takes the full 32-digit request id, not {id:?}: see `lockbox request show`"
                )));
            }
            let expect = expect.as_deref().map(|d| parse_hex::<32>("digest", d)).transpose()?;
            // An unknown request is refused before any prompt; the vault is not held while the
            // customer reads, confirms or types the passphrase, and approval checks it again.
            let confirmed = {
                let vault = vault()?;
                let (request, status) = Workflow::new(&vault).request(&id)?;
                // The approval check, on the vault's view: refused here, before any prompt, is
                // what the customer's client would refuse after it.
                let tenant = vault.tenant(&request.tenant)?;
                let limits = lockbox::lockbox::Limits {
                    tenant: &tenant.name,
                    max_access_secs: lockbox::vault::policy(&tenant)?.max_access_secs,
                };
                let ask = lockbox::lockbox::Ask { levels: levels.as_deref(), duration_secs: duration };
                let terms = lockbox::lockbox::decide(&request, status, vault.actor(), limits, ask)?;
                let chosen = terms.levels;
                match expect {
                    Some(d) => Confirmation::EngineersDigest(d),
                    None => {
                        let shown = lockbox::customer::shown_digest(&vault, &id)?;
                        let key_fp = hex(&lockbox::crypto::fingerprint(
                            &Workflow::new(&vault).engineer(&request.engineer)?.public,
                        ));
                        // Each chosen level with the epochs its release covers (1 to current).
                        let release: Vec<String> = chosen
                            .iter()
                            .map(|l| {
                                let current = tenant
                                    .levels
                                    .iter()
                                    .find(|t| &t.name == l)
                                    .and_then(|t| t.epochs.last())
                                    .map_or(0, |e| e.epoch);
                                epochs_text(l, current)
                            })
                            .collect();
                        let expires = vault.now().saturating_add(terms.duration_secs);
                        drop(vault);
                        // What the customer confirmed is what is approved: the vault is read
                        // again below, and anything changed meanwhile no longer matches.
                        confirm(&request, &release, duration, expires, &key_fp, shown)?
                    }
                }
            };
            let mut ring = ctx.keyring(&keyring)?;
            let g = lockbox::customer::approve_request(
                &ctx.open_for(&mut ring)?,
                &mut ring,
                &id,
                levels.as_deref(),
                duration,
                confirmed,
            )?;
            // The grant id alone on standard output (for scripts); what was released, on
            // standard error, for the person.
            ctx.emit(grant_json(&g, GrantStatus::Active, g.created), || {
                outln!("{}", id_hex(&g.id));
                eprintln!(
                    "lockbox: released {} to {} until {} ({}); those levels now write to a new epoch",
                    released(&g),
                    g.engineer,
                    time(g.expires),
                    super::output::duration(g.expires.saturating_sub(g.created))
                );
            });
        }
        RequestCmd::Deny { id, reason } => {
            let r = Workflow::new(&vault()?).deny_request(&id, reason.as_deref())?;
            ctx.emit(request_json(&r, RequestStatus::Denied), || outln!("denied request {}", id_hex(&r.id)));
        }
    }
    Ok(())
}

pub fn grant(ctx: &Ctx, cmd: GrantCmd) -> Result<(), Error> {
    let vault = ctx.open()?;
    let now = vault.now();
    match cmd {
        GrantCmd::List { tenant, engineer, status } => {
            let mut all = Workflow::new(&vault).grants(tenant.as_deref(), engineer.as_deref())?;
            all.retain(|(_, s)| status.as_deref().is_none_or(|want| s.name() == want));
            let rows: Vec<Vec<String>> = all
                .iter()
                .map(|(g, s)| {
                    vec![
                        id_hex(&g.id),
                        g.tenant.clone(),
                        g.engineer.clone(),
                        released(g),
                        s.name().into(),
                        if *s == GrantStatus::Active { remaining(g.expires, now) } else { "-".into() },
                        g.approved_by.clone(),
                    ]
                })
                .collect();
            let j: Vec<Value> = all.iter().map(|(g, s)| grant_json(g, *s, now)).collect();
            ctx.emit(json!(j), || {
                table(&["GRANT", "TENANT", "ENGINEER", "LEVELS", "STATUS", "REMAINING", "APPROVED BY"], &rows)
            });
        }
        GrantCmd::Show { id } => {
            let (g, s) = Workflow::new(&vault).grant(&id)?;
            ctx.emit(grant_json(&g, s, now), || {
                outln!("grant        {}", id_hex(&g.id));
                outln!("status       {}", s.name());
                outln!("tenant       {}", g.tenant);
                outln!("engineer     {}", g.engineer);
                outln!("levels       {}", released(&g));
                outln!("approved     {} by {}", time(g.created), g.approved_by);
                outln!("access       {}", duration(g.expires.saturating_sub(g.created)));
                match (s, &g.revoked) {
                    (_, Some((at, by))) => outln!("revoked      {} by {by}", time(*at)),
                    (GrantStatus::Active, None) => {
                        outln!("expires      {} (in {})", time(g.expires), remaining(g.expires, now))
                    }
                    _ => outln!("expired      {}", time(g.expires)),
                }
                outln!("request      {}", id_hex(&g.request));
            });
        }
        GrantCmd::Revoke { id } => {
            let g = Workflow::new(&vault).revoke_grant(&id)?;
            ctx.emit(grant_json(&g, GrantStatus::Revoked, now), || outln!("revoked grant {}", id_hex(&g.id)));
        }
    }
    Ok(())
}

/// The levels a grant releases, for a person: `internal (epoch 1), secret (epochs 1-3)`.
fn released(g: &GrantRecord) -> String {
    g.levels.iter().map(|(l, e)| epochs_text(l, *e)).collect::<Vec<_>>().join(", ")
}

/// `internal (epoch 1)` or `secret (epochs 1-3)`.
fn epochs_text(level: &str, newest: u32) -> String {
    match newest {
        1 => format!("{level} (epoch 1)"),
        e => format!("{level} (epochs 1-{e})"),
    }
}

pub fn audit(ctx: &Ctx, cmd: AuditCmd) -> Result<(), Error> {
    // A keyring's passphrase is asked before the vault is opened.
    let mut ring = match &cmd {
        AuditCmd::Verify { keyring: Some(k), .. } | AuditCmd::Checkpoint { keyring: k, .. } => {
            Some(ctx.keyring(k)?)
        }
        _ => None,
    };
    // Only a checkpoint saves the keyring: a verify reads it, and needs no write access
    // beside it.
    let vault = match ring.as_mut() {
        Some(ring) if matches!(cmd, AuditCmd::Checkpoint { .. }) => ctx.open_for(ring)?,
        _ => ctx.open()?,
    };
    match cmd {
        AuditCmd::Checkpoint { tenant, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            lockbox::customer::synced(&vault, ring, &tenant)?;
            ring.save()?;
            let c = lockbox::customer::check_audit(&vault, ring, &tenant)?;
            ctx.emit(
                json!({"tenant": tenant, "entries": c.size, "head": hex(&c.head), "manifests": c.manifests}),
                || {
                    outln!(
                        "tenant {tenant}: {} audit entries checked and checkpointed, head {}",
                        c.size,
                        hex(&c.head)
                    )
                },
            );
        }
        AuditCmd::Show { tenant, verbose } => {
            // Through a server, the log of the token's tenant (others' entries are not shown).
            let tenant = tenant.or_else(|| vault.mirror_tenant());
            let entries = vault.audit_entries(tenant.as_deref())?;
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.seq.to_string(),
                        time(e.time),
                        escaped(&e.actor),
                        e.action().to_owned(),
                        e.tenant.clone(),
                        escaped(&e.subject),
                        super::audit_text::detail(e, 200),
                    ]
                })
                .collect();
            let j: Vec<Value> = entries.iter().map(super::audit_text::json).collect();
            ctx.emit(json!(j), || {
                table(&["SEQ", "TIME", "ACTOR", "ACTION", "TENANT", "SUBJECT", "DETAIL"], &rows);
                if verbose {
                    for e in &entries {
                        let ids = super::audit_text::ids(e);
                        if !ids.is_empty() {
                            outln!("entry {} ({}), {} item id(s):", e.seq, e.action(), ids.len());
                            for id in ids {
                                outln!("    {}", escaped(id));
                            }
                        }
                    }
                }
            });
        }
        AuditCmd::Verify { expect_head, .. } => {
            if let Some(ring) = ring.as_mut() {
                let mut tenants: Vec<String> =
                    ring.for_vault(vault.id()).entries().map(|(t, _, _)| t.to_owned()).collect();
                tenants.dedup();
                // Through a server, the token's tenant only.
                // (and the keyring must hold it for this vault, or nothing would be checked:
                // the vault id and tenant are the server's word).
                if let Some(only) = vault.mirror_tenant() {
                    tenants.retain(|t| *t == only);
                    if tenants.is_empty() {
                        return Err(Error::integrity(format!(
                            "this keyring holds no tenant {only:?} of the vault the server shows (vault {}): nothing was checked",
                            hex(&vault.id())
                        )));
                    }
                    if expect_head.is_some() {
                        return Err(Error::usage(
                            "through --server, audit verify checks the tenant's chain against the keyring; --expect-head names the whole log's head, which the server does not show",
                        ));
                    }
                }
                let mut stale = Vec::new();
                for tenant in tenants {
                    // Every entry, not only those after the checkpoint: this is the audit.
                    let (c, _) = lockbox::customer::checked_entries(&vault, ring, &tenant)?;
                    let monitor = monitor_status(&c.monitor);
                    ctx.emit(json!({"tenant": tenant, "entries": c.size, "checkpointed": c.checkpointed, "head": hex(&c.head), "monitor": monitor}), || {
                        outln!(
                            "tenant {tenant}: chain intact, {} entries ({} under the keyring's last checkpoint), {} signed manifests; {monitor}",
                            c.size, c.checkpointed, c.manifests
                        )
                    });
                    if let Some(why) = c.monitor.stale(vault.now()) {
                        stale.push(format!("tenant {tenant}: {why}"));
                    }
                }
                if !stale.is_empty() {
                    return Err(Error::integrity(stale.join("; ")));
                }
            }
            if vault.is_mirror() {
                // The whole log holds other tenants' entries: the server shows only the chain of
                // the token's tenant, checked above.
                return Ok(());
            }
            let expect = expect_head.as_deref().map(|h| parse_hex::<32>("head hash", h)).transpose()?;
            match vault.verify_audit(expect.as_ref())? {
                Verdict::Intact { count, head } => ctx
                    .emit(json!({"intact": true, "entries": count, "head": hex(&head)}), || {
                        outln!("audit log intact: {count} entries, head {}", hex(&head))
                    }),
                Verdict::Broken { seq, why } => {
                    return Err(Error::integrity(format!("audit log broken at entry {seq}: {why}")));
                }
            }
        }
    }
    Ok(())
}

/// The monitor's side of an audit check, in words.
fn monitor_status(seen: &lockbox::customer::MonitorSeen) -> String {
    use lockbox::customer::MonitorSeen;
    match seen {
        MonitorSeen::None => "no audit monitor".into(),
        MonitorSeen::Missing { .. } => "the audit monitor's checkpoint is missing".into(),
        MonitorSeen::Checked { time: t, size, .. } => {
            format!("the audit monitor checkpointed {size} entries at {}", time(*t))
        }
    }
}

/// The fields an approval is about, in a fixed order, before any free text; the case id
/// escaped so it cannot look like another line.
fn security_block(r: &RequestRecord, key_fp: &str) {
    outln!("request   {}", id_hex(&r.id));
    outln!("tenant    {}", r.tenant);
    outln!("engineer  {} (key {key_fp})", r.engineer);
    outln!("levels    {}", r.levels.join(", "));
    outln!("duration  {}", duration(r.duration_secs));
    outln!("case      {}", escaped(&r.case_id));
}

/// On a terminal: shows what would be released and asks for the digest the engineer gave in
/// the support case (or `yes`, which approves only an engineer whose key the keyring pinned
/// before). Elsewhere: refuses, asking for --expect.
fn confirm(
    r: &RequestRecord,
    release: &[String],
    duration_secs: Option<u64>,
    expires: u64,
    key_fp: &str,
    shown: [u8; 32],
) -> Result<Confirmation, Error> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(
            "approve needs --expect DIGEST (the request digest the engineer gave you outside the vault) when it cannot ask on a terminal",
        ));
    }
    let mut err = std::io::stderr();
    let _ = writeln!(err, "You are about to release keys for this request:");
    let _ = writeln!(
        err,
        "  request   {}\n  tenant    {}\n  engineer  {} (key {key_fp})\n  release   {} (asked: {})\n  duration  {}, until {}\n  case      {}\n  reason    {}",
        id_hex(&r.id),
        r.tenant,
        r.engineer,
        release.join(", "),
        r.levels.join(", "),
        duration(duration_secs.unwrap_or(r.duration_secs)),
        time(expires),
        escaped(&r.case_id),
        escaped(&r.reason)
    );
    let _ = write!(
        err,
        "Paste the request digest the engineer gave you in the support case to approve (or type yes if this keyring already pinned {}'s key): ",
        r.engineer
    );
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::other(format!("cannot read the answer: {e}")))?;
    match answer.trim() {
        "yes" => Ok(Confirmation::Shown(shown)),
        digest if digest.len() == 64 => Ok(Confirmation::EngineersDigest(parse_hex::<32>("digest", digest)?)),
        _ => Err(Error::conflict("not approved: nothing was released")),
    }
}
