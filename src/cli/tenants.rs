//! Tenant and level commands: the customer's keyring prepares, the vault commits.

use lockbox::format::Header;
use lockbox::keyring::Keyring;
use lockbox::vault::{Error, Vault};
use serde_json::json;

use super::args::{LevelCmd, TenantCmd};
use super::context::Ctx;
use super::output::{duration, hex, outln, parse_hex, table, tenant_json, time};
use super::progress::{Progress, Unit};

pub fn tenant(ctx: &Ctx, cmd: TenantCmd) -> Result<(), Error> {
    // Erasing a tenant is asked about before anything else (the vault is not held meanwhile).
    if let TenantCmd::Delete { tenant, yes, .. } = &cmd {
        confirm_by_name(tenant, *yes, "delete it and erase every item it holds")?;
    }
    // The subcommands with a key ask for its passphrase before the vault is opened.
    let mut ring = match &cmd {
        TenantCmd::Create { keyring, .. } => Some(ctx.keyring_or_new(keyring)?),
        TenantCmd::Delete { keyring, .. }
        | TenantCmd::Refresh { keyring, .. }
        | TenantCmd::Monitor { keyring, .. }
        | TenantCmd::Resync { keyring, .. }
        | TenantCmd::AcceptRestore { keyring, .. }
        | TenantCmd::Policy { keyring: Some(keyring), .. } => Some(ctx.keyring(keyring)?),
        _ => None,
    };
    let vault = match (ring.as_mut(), &cmd) {
        (Some(ring), _) => ctx.open_for(ring)?,
        (None, TenantCmd::Trust { tenant, .. }) => ctx.open_view(tenant)?,
        (None, _) => ctx.open()?,
    };
    match cmd {
        TenantCmd::Create { tenant, levels, keyring, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let record = lockbox::customer::create_tenant(&vault, ring, &tenant, &levels)?;
            ctx.emit(tenant_json(&record), || {
                outln!("created tenant {tenant} with levels {}", levels.join(", "));
                outln!(
                    "its private level keys are in {} (keep it, and its passphrase, safe)",
                    keyring.display()
                );
                outln!(
                    "tenant signing key {}: give this fingerprint to every writer and engineer (`lockbox tenant trust {tenant} FINGERPRINT`)",
                    hex(&lockbox::crypto::tenant_fingerprint(&record.signer))
                );
            });
        }
        TenantCmd::Delete { tenant, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let r = lockbox::customer::delete_tenant(&vault, ring, &tenant)?;
            ctx.emit(super::workflow::removal_json(&r), || {
                outln!(
                    "deleted tenant {tenant}: {} item(s) erased, {} grant(s) revoked, {} request(s) denied; its keys left {}",
                    r.items_erased,
                    r.grants_revoked.len(),
                    r.requests_denied.len(),
                    ring.path().display()
                )
            });
        }
        TenantCmd::List => {
            let tenants = vault.tenants()?;
            let rows: Vec<Vec<String>> = tenants
                .iter()
                .map(|t| {
                    let levels: Vec<&str> = t.levels.iter().map(|l| l.name.as_str()).collect();
                    vec![t.name.clone(), levels.join(","), time(t.created)]
                })
                .collect();
            ctx.emit(json!(tenants.iter().map(tenant_json).collect::<Vec<_>>()), || {
                table(&["TENANT", "LEVELS", "CREATED"], &rows)
            });
        }
        TenantCmd::Policy { tenant, max_access, request_ttl, manifest_lifetime, .. } => {
            let change = lockbox::customer::PolicyChange {
                max_access_secs: max_access,
                request_ttl_secs: request_ttl,
                manifest_lifetime_secs: manifest_lifetime,
            };
            let t = match (change != Default::default(), ring.as_mut()) {
                (true, Some(ring)) => lockbox::customer::set_policy(&vault, ring, &tenant, change)?,
                (true, None) => {
                    return Err(Error::usage(
                        "changing the policy signs a new manifest: pass --keyring FILE",
                    ));
                }
                (false, _) => vault.tenant(&tenant)?,
            };
            // The lifetime is the signed manifest's own (expires - issued); the record's view.
            let lifetime = lockbox::format::SignedNote::decode(&t.manifest)
                .ok()
                .and_then(|n| lockbox::format::Manifest::decode(&n.body).ok())
                .map(|m| m.expires.saturating_sub(m.issued));
            let p = lockbox::vault::policy(&t)?;
            ctx.emit(json!({"tenant": t.name, "max_access_secs": p.max_access_secs, "request_ttl_secs": p.request_ttl_secs, "manifest_lifetime_secs": lifetime}), || {
                outln!("tenant {}: grants last at most {}; requests wait at most {}; manifests are valid for {}", t.name, duration(p.max_access_secs), duration(p.request_ttl_secs), lifetime.map_or("?".into(), duration))
            });
        }
        TenantCmd::Trust { tenant, fingerprint, replace, yes } => {
            let fp = parse_hex::<32>("fingerprint", &fingerprint)?;
            let shown = vault.tenant(&tenant).ok().map(|t| lockbox::crypto::tenant_fingerprint(&t.signer));
            if shown.is_some_and(|s| s != fp) && !replace {
                return Err(Error::integrity(format!(
                    "the vault shows tenant {tenant} with signing key {}, not {}: check the fingerprint with the customer (pin it anyway with --replace)",
                    hex(&shown.unwrap_or_default()),
                    hex(&fp)
                )));
            }
            let pinned = vault.pins().lookup(vault.place(), &vault.id(), &tenant).ok().flatten();
            if let Some(p) = pinned.filter(|p| p.fingerprint != fp) {
                if !replace {
                    return Err(Error::conflict(format!(
                        "tenant {tenant} is pinned on this machine to signing key {}: replacing a pin needs --replace",
                        hex(&p.fingerprint)
                    )));
                }
                drop(vault);
                confirm_by_name(
                    &tenant,
                    yes,
                    &format!("replace its pin {} with {}", hex(&p.fingerprint), hex(&fp)),
                )?;
                return trust_again(ctx, &tenant, fp);
            }
            vault.trust_tenant(&tenant, fp)?;
            ctx.emit(json!({"tenant": tenant, "fingerprint": hex(&fp), "vault_matches": shown == Some(fp)}), || {
                outln!("pinned tenant {tenant} of vault {} to signing key {}", hex(&vault.id()), hex(&fp));
                if shown.is_some_and(|s| s != fp) {
                    outln!("warning: the vault shows another key for tenant {tenant}; writes will be refused until the customer's manifest verifies");
                }
            });
        }
        TenantCmd::Monitor { tenant, key, every, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let monitor = key
                .map(|k| parse_hex::<32>("monitor key", &k))
                .transpose()?
                .map(|public| lockbox::format::ManifestMonitor { public, interval_secs: every });
            lockbox::customer::set_monitor(&vault, ring, &tenant, monitor)?;
            ctx.emit(json!({"tenant": tenant, "monitor": monitor.map(|m| hex(&m.public)), "interval_secs": monitor.map(|m| m.interval_secs)}), || match monitor {
                Some(m) => outln!(
                    "tenant {tenant}'s manifest names monitor key {} (every {}): give the monitor the tenant key fingerprint for `lockbox monitor trust`",
                    hex(&m.public),
                    duration(m.interval_secs)
                ),
                None => outln!("tenant {tenant}'s manifest names no audit monitor"),
            });
        }
        TenantCmd::Refresh { tenant, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let expires = lockbox::customer::refresh_manifest(&vault, ring, &tenant)?;
            ctx.emit(json!({"tenant": tenant, "expires": time(expires)}), || {
                outln!("signed a new manifest of tenant {tenant}; writers accept it until {}", time(expires))
            });
        }
        TenantCmd::Resync { tenant, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let r = lockbox::customer::resync(&vault, ring, &tenant)?;
            let missing: Vec<String> = r.missing.iter().map(|(l, e)| format!("{l}@{e}")).collect();
            ctx.emit(json!({"tenant": tenant, "from_seq": r.from, "to_seq": r.to, "missing_keys": missing}), || {
                outln!("keyring brought from manifest seq {} to seq {} of tenant {tenant}", r.from, r.to);
                if !missing.is_empty() {
                    outln!("warning: this keyring lacks the current keys of {}: items under them cannot be read with it; rotate those levels", missing.join(", "));
                }
            });
        }
        TenantCmd::AcceptRestore { tenant, yes, .. } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let gap = lockbox::customer::restore_gap(&vault, ring, &tenant)?;
            // Neither the vault nor the keyring is held while the customer reads and answers.
            drop(vault);
            ring.release();
            show_gap(&tenant, &gap);
            confirm_by_name(&tenant, yes, "accept this restored vault")?;
            let vault = ctx.open_for(ring)?;
            let done = lockbox::customer::accept_restore(&vault, ring, &tenant, &gap)?;
            let rotated: Vec<String> = done.rotations.iter().map(|(l, _, e)| format!("{l}@{e}")).collect();
            ctx.emit(
                json!({"tenant": tenant, "restored_seq": done.vault_seq, "keyring_seq": done.keyring_seq,
                       "manifest_seq": done.keyring_seq + 1, "rotated": rotated}),
                || {
                    outln!(
                        "accepted the restored vault of tenant {tenant}: manifest seq {} signed after seq {}; rotated {}",
                        done.keyring_seq + 1,
                        done.vault_seq,
                        if rotated.is_empty() { "nothing".to_owned() } else { rotated.join(", ") }
                    )
                },
            );
        }
        TenantCmd::Show { tenant } => {
            let t = vault.tenant(&tenant)?;
            let mut j = tenant_json(&t);
            j["vault"] = json!(hex(&vault.id()));
            ctx.emit(j, || {
                outln!("tenant      {}", t.name);
                outln!("vault       {}", hex(&vault.id()));
                outln!("created     {}", time(t.created));
                let policy = lockbox::vault::policy(&t).ok();
                let shown =
                    |secs: Option<u64>| secs.map_or("? (the manifest does not parse)".into(), duration);
                outln!("max access  {}", shown(policy.map(|p| p.max_access_secs)));
                outln!("request ttl {}", shown(policy.map(|p| p.request_ttl_secs)));
                outln!("signing key {}", hex(&lockbox::crypto::tenant_fingerprint(&t.signer)));
                let rows: Vec<Vec<String>> = t
                    .levels
                    .iter()
                    .filter_map(|l| l.epochs.last().map(|e| (l, e)))
                    .map(|(l, e)| {
                        vec![
                            l.name.clone(),
                            e.epoch.to_string(),
                            hex(&lockbox::crypto::fingerprint(&e.public)),
                            time(e.created),
                        ]
                    })
                    .collect();
                table(&["LEVEL", "EPOCH", "KEY FINGERPRINT", "SINCE"], &rows);
            });
        }
    }
    Ok(())
}

pub fn level(ctx: &Ctx, cmd: LevelCmd) -> Result<(), Error> {
    match cmd {
        LevelCmd::Add { tenant, level, keyring, .. } => {
            let mut ring = ctx.keyring(&keyring)?;
            let vault = ctx.open_for(&mut ring)?;
            let record = lockbox::customer::add_level(&vault, &mut ring, &tenant, &level)?;
            ctx.emit(tenant_json(&record), || {
                outln!("added level {level} to tenant {tenant}; its key is in {}", keyring.display())
            });
            Ok(())
        }
        LevelCmd::Rotate { tenant, level, keyring, rewrap, reencrypt, .. } => {
            let mut ring = ctx.keyring(&keyring)?;
            let vault = ctx.open_for(&mut ring)?;
            let mut bar = Progress::new(if reencrypt { "re-encrypting" } else { "re-wrapping" }, Unit::Items);
            let remote = ctx.remote()?;
            let r = if let (true, Some(remote)) = (reencrypt, &remote) {
                // Through a server: each item is decrypted here as the server streams it, and
                // sent back sealed under the new key, replacing only the version read.
                let mut copy = |writer: &Vault, ring: &Keyring, id: &str, header: &Header, read| {
                    super::remote_bulk::reencrypt_one(
                        remote,
                        writer,
                        ring,
                        (&tenant, &level),
                        id,
                        header,
                        read,
                    )
                };
                lockbox::customer::reencrypt_level_with(
                    &vault,
                    &mut ring,
                    &tenant,
                    &level,
                    &mut |d, t| bar.show(d, t),
                    &mut copy,
                )
            } else if reencrypt {
                lockbox::customer::reencrypt_level(&vault, &mut ring, &tenant, &level, &mut |d, t| {
                    bar.show(d, t)
                })
            } else {
                lockbox::customer::rotate_level_with_progress(
                    &vault,
                    &mut ring,
                    &tenant,
                    &level,
                    rewrap,
                    &mut |d, t| bar.show(d, t),
                )
            };
            bar.clear();
            let r = r?;
            ctx.emit(
                json!({"tenant": tenant, "level": level, "epoch": r.epoch, "rewrapped": r.rewrapped, "reencrypted": reencrypt}),
                || {
                    outln!(
                        "level {level} of tenant {tenant} is now at epoch {}; {} item(s) {}",
                        r.epoch,
                        r.rewrapped,
                        if reencrypt { "re-encrypted" } else { "re-wrapped" }
                    )
                },
            );
            Ok(())
        }
    }
}

/// What a restored vault lost of what the keyring signed, on standard error (before asking).
fn show_gap(tenant: &str, gap: &lockbox::customer::RestoreGap) {
    eprintln!("The vault of tenant {tenant} was restored to an older state than this keyring signed:");
    eprintln!(
        "  manifests {}..={} signed by this keyring are not in the vault (it holds seq {})",
        gap.vault_seq + 1,
        gap.keyring_seq,
        gap.vault_seq
    );
    if gap.lost_entries > 0 {
        eprintln!("  {} audit entries the last checkpoint covered are not in its log", gap.lost_entries);
    }
    let released: Vec<String> = gap.released.iter().map(|(l, e)| format!("{l}@{e}")).collect();
    eprintln!(
        "  keys released to engineers: {}",
        if released.is_empty() { "none".to_owned() } else { released.join(", ") }
    );
    for (level, from, to) in &gap.rotations {
        match from {
            0 => eprintln!(
                "  level {level}, added after that state, comes back at epoch {to} (its items are gone)"
            ),
            _ => eprintln!(
                "  level {level} moves from epoch {from} to {to} (its current key was released or overtaken)"
            ),
        }
    }
    use lockbox::customer::Anchor;
    match gap.anchored {
        Anchor::KeyringCheckpoint(n) => {
            eprintln!("  its audit log still holds the {n} entries this keyring's last checkpoint covered")
        }
        Anchor::RestoredCheckpoint { size, time } => eprintln!(
            "  its first {size} audit entries are as your checkpoint of {} signed them; the {} after it are vouched for by no signature",
            super::output::time(time),
            gap.log.0 - size
        ),
        Anchor::Nothing => eprintln!(
            "  no checkpoint of yours vouches for its audit log ({} entries): accept only a backup you trust",
            gap.log.0
        ),
    }
    eprintln!("  items and grants written after the restored state are gone from the vault");
}

/// Asks for the tenant's name on a terminal; elsewhere needs `--yes`.
pub fn confirm_by_name(tenant: &str, yes: bool, what: &str) -> Result<(), Error> {
    use std::io::{BufRead, IsTerminal, Write};
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(format!("to {what} without a terminal to ask on, pass --yes")));
    }
    let mut err = std::io::stderr();
    let _ = write!(err, "Type the tenant's name ({tenant}) to {what}: ");
    let _ = err.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::other(format!("cannot read the answer: {e}")))?;
    if answer.trim() != tenant {
        return Err(Error::conflict("not confirmed: nothing was changed"));
    }
    Ok(())
}

/// Pins `tenant` to `fp` in a vault opened again (after a question asked with it closed).
fn trust_again(ctx: &Ctx, tenant: &str, fp: [u8; 32]) -> Result<(), Error> {
    let vault = ctx.open_view(tenant)?;
    vault.trust_tenant(tenant, fp)?;
    let shown = vault.tenant(tenant).ok().map(|t| lockbox::crypto::tenant_fingerprint(&t.signer));
    ctx.emit(json!({"tenant": tenant, "fingerprint": hex(&fp), "vault_matches": shown == Some(fp)}), || {
        outln!(
            "pinned tenant {tenant} of vault {} to signing key {} (the old pin is replaced)",
            hex(&vault.id()),
            hex(&fp)
        )
    });
    Ok(())
}
