//! Audit monitor commands: a key file of its own, opened without the customer's keyring.

use lockbox::keyring::{DEFAULT_KDF, MonitorKey};
use lockbox::vault::Error;
use serde_json::json;

use super::args::MonitorCmd;
use super::context::Ctx;
use super::output::{hex, outln, parse_hex};

pub fn monitor(ctx: &Ctx, cmd: MonitorCmd) -> Result<(), Error> {
    match cmd {
        MonitorCmd::Init { monitor, .. } => {
            let pass = ctx.new_passphrase(&monitor)?;
            let key = MonitorKey::create(&monitor, &pass, DEFAULT_KDF)?;
            let public = hex(&key.signing().public());
            ctx.emit(json!({"monitor": monitor.display().to_string(), "public_key": public}), || {
                outln!("created monitor key {}", monitor.display());
                outln!("public key {public}: the customer names it with `lockbox tenant monitor TENANT --key {public}`");
            });
        }
        MonitorCmd::Trust { tenant, fingerprint, monitor: path, restart, .. } => {
            let fp = parse_hex::<32>("fingerprint", &fingerprint)?;
            let mut key = ctx.monitor_key(&path)?;
            let vault = ctx.open_for_monitor(&mut key)?;
            lockbox::customer::monitor_trust(&vault, &mut key, &tenant, &fp, restart)?;
            ctx.emit(json!({"tenant": tenant, "fingerprint": hex(&fp)}), || {
                outln!("monitor {} pinned tenant {tenant} to signing key {}", path.display(), hex(&fp))
            });
        }
        MonitorCmd::Checkpoint { tenant, monitor: path, .. } => {
            let mut key = ctx.monitor_key(&path)?;
            let vault = ctx.open_for_monitor(&mut key)?;
            let run = lockbox::customer::monitor_checkpoint(&vault, &mut key, &tenant)?;
            ctx.emit(json!({"tenant": tenant, "entries": run.size, "head": hex(&run.head), "checkpointed_before": run.checkpointed}), || {
                outln!(
                    "tenant {tenant}: {} audit entries checked ({} under the monitor's last checkpoint) and checkpointed, head {}",
                    run.size,
                    run.checkpointed,
                    hex(&run.head)
                )
            });
        }
    }
    Ok(())
}
