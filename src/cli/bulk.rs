//! import and export: whole directories in and out.

use std::path::PathBuf;

use lockbox::vault::{BulkReport, Error, LevelKeys};
use serde_json::{Value, json};

use super::context::{Ctx, Key};
use super::output::outln;
use super::progress::{Progress, Unit};

pub fn import(ctx: &Ctx, tenant: String, level: String, dir: PathBuf, replace: bool) -> Result<(), Error> {
    let started = std::time::Instant::now();
    let mut bar = Progress::new("importing", Unit::Items);
    let mut progress = |done, total| bar.show(done, total);
    let r = match ctx.remote()? {
        Some(remote) => {
            let view = ctx.open_view(&tenant)?;
            super::remote_bulk::import(&remote, &view, (&tenant, &level), &dir, replace, &mut progress)?
        }
        None => ctx.open()?.import_dir(&tenant, &level, &dir, replace, &mut progress)?,
    };
    bar.clear();
    let secs = started.elapsed().as_secs_f64();
    let skipped = report_skips(&r, "entry");
    ctx.emit(json!({"items": r.items, "bytes": r.bytes, "seconds": secs, "skipped": skipped}), || {
        outln!(
            "imported {} items ({}) into tenant {tenant} at level {level} in {secs:.2}s ({:.0} items/s); {} skipped",
            r.items,
            lockbox::format::size(r.bytes),
            r.items as f64 / secs.max(1e-9),
            r.skipped.len()
        )
    });
    outcome(&r, "entries of the directory were not imported")
}

pub fn export(
    ctx: &Ctx,
    tenant: String,
    dir: PathBuf,
    keyring: Option<PathBuf>,
    identity: Option<PathBuf>,
    replace: bool,
    filter: &lockbox::vault::ItemFilter,
) -> Result<(), Error> {
    let mut key = Key::load(ctx, keyring.as_deref(), identity.as_deref())?
        .ok_or_else(|| Error::usage("export needs --keyring FILE or --identity FILE"))?;
    let vault = ctx.open()?;
    let started = std::time::Instant::now();
    let mut bar = Progress::new("exporting", Unit::Items);
    let mut progress = |d, t| bar.show(d, t);
    let r = match (ctx.remote()?, &mut key) {
        // Through a server: each envelope is fetched and decrypted here (the customer's
        // keyring, or the keys the engineer's grants release, checked on this copy).
        (Some(remote), Key::Keyring(ring)) => {
            let keys: (&(dyn LevelKeys + Sync), bool) = (&*ring, false);
            super::remote_bulk::export(&remote, &tenant, keys, (&dir, replace), filter, &mut progress)?
        }
        (Some(remote), Key::Identity(identity)) => {
            let keys = lockbox::lockbox::Workflow::new(&vault).engineer_keys(identity, &tenant)?;
            let keys: (&(dyn LevelKeys + Sync), bool) = (&keys, true);
            super::remote_bulk::export(&remote, &tenant, keys, (&dir, replace), filter, &mut progress)?
        }
        (None, key) => {
            let keys = key.level_keys(&vault, &tenant)?;
            vault.export_dir_where(&tenant, keys.as_ref(), &dir, replace, filter, &mut progress)?
        }
    };
    bar.clear();
    let secs = started.elapsed().as_secs_f64();
    let skipped = report_skips(&r, "item");
    let json = json!({"items": r.items, "bytes": r.bytes, "seconds": secs, "skipped": skipped, "out_of_scope": r.out_of_scope});
    ctx.emit(json, || {
        outln!(
            "exported {} items ({}) to {} in {secs:.2}s ({:.0} items/s); {} skipped",
            r.items,
            lockbox::format::size(r.bytes),
            dir.display(),
            r.items as f64 / secs.max(1e-9),
            r.skipped.len()
        );
        if r.out_of_scope > 0 {
            outln!(
                "{} item(s) are outside what your active grants release, and were left alone",
                r.out_of_scope
            );
        }
    });
    outcome(&r, "item(s) were not exported")
}

/// Prints each skip on standard error (escaped: names can hold anything) and returns them for
/// the JSON summary, each keyed by `what` (`item` or `entry`).
fn report_skips(r: &BulkReport, what: &str) -> Vec<Value> {
    for (name, e) in &r.skipped {
        eprintln!("lockbox: skipped {name:?}: {}", super::remedy::message(e).escape_debug());
    }
    r.skipped
        .iter()
        .map(|(name, e)| json!({what: name, "kind": e.kind.name(), "message": e.message, "hint": e.remedy.as_ref().map(super::remedy::hint)}))
        .collect()
}

/// Success if nothing was skipped; else the error of the most telling kind among the skips.
fn outcome(r: &BulkReport, what: &str) -> Result<(), Error> {
    match r.skipped.iter().map(|(_, e)| e.kind).min_by_key(|k| super::exit_code(*k)) {
        None => Ok(()),
        Some(kind) => Err(Error::new(kind, format!("{} {what}", r.skipped.len()))),
    }
}
