//! The audit log's and the audit monitor's commands.

use std::path::PathBuf;

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;

use super::*;

/// Audit commands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Print the log
    Show {
        /// Only this tenant's entries
        #[arg(add = ArgValueCompleter::new(complete::tenants), long)]
        tenant: Option<String>,
        /// Also list the item ids that import and export entries name
        #[arg(long)]
        verbose: bool,
    },
    /// Recompute the chain; exit 5 naming the first bad entry. With --keyring, also check each
    /// of the keyring's tenants' own chain against its last signed checkpoint and manifests
    Verify {
        /// A head hash recorded earlier: it must still be in the chain (detects a cut-back log)
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// The customer's keyring: its tenants' chains are checked against its checkpoints
        #[arg(short, long, value_name = "FILE")]
        keyring: Option<PathBuf>,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Check a tenant's audit chain against the keyring's last checkpoint, then sign a new one
    /// (every keyring command does this first)
    Checkpoint {
        /// Tenant
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
}

/// Audit monitor commands (run by whoever the customer trusts to watch the log, e.g. from cron).
#[derive(Debug, Subcommand)]
pub enum MonitorCmd {
    /// Create a passphrase-protected monitor key file and print its public key, for the
    /// customer to name with `lockbox tenant monitor`
    Init {
        /// The monitor key file to create
        #[arg(long, value_name = "FILE")]
        monitor: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Pin a tenant's signing key in the monitor's file, by the fingerprint the customer gave
    Trust {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant key fingerprint (64 hex digits)
        fingerprint: String,
        /// The monitor key file
        #[arg(long, value_name = "FILE")]
        monitor: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Forget the monitor's last checkpoint of the tenant: only after the customer accepted a
        /// vault restored from a backup (the monitor otherwise refuses the shorter log)
        #[arg(long)]
        restart: bool,
    },
    /// Check the tenant's audit chain against the monitor's last checkpoint and sign a new one
    /// (exit 5 if the log was cut back or rewritten)
    Checkpoint {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The monitor key file
        #[arg(long, value_name = "FILE")]
        monitor: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
}
