//! Tenants and their levels.

use std::path::PathBuf;

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;

use super::*;

/// Tenant commands.
#[derive(Debug, Subcommand)]
pub enum TenantCmd {
    /// Create a tenant and its level keys (FILE is created if absent, else added to)
    Create {
        /// Tenant name: [a-z0-9][a-z0-9-]{0,62}
        tenant: String,
        /// Comma-separated classification levels, e.g. public,internal,confidential,secret
        #[arg(long, value_delimiter = ',', required = true)]
        levels: Vec<String>,
        /// The customer's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// List tenants
    List,
    /// Delete a tenant: every item erased, its grants revoked, its requests denied; the audit
    /// log keeps its history. Needs the tenant's keyring, whose keys of the tenant are dropped
    Delete {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Do not ask for the tenant's name (needed when standard input is not a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Show a tenant's levels, epochs, policy and signing key fingerprint
    Show {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
    },
    /// Pin a tenant's signing key on this machine, by the fingerprint the customer gave you:
    /// writes (put, import) and engineers' reads check every manifest and grant against it
    Trust {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant key fingerprint (64 hex digits; `tenant show` on the customer's side)
        fingerprint: String,
        /// Pin it even though the vault shows another key, or in place of another pin (replacing
        /// a pin asks on a terminal)
        #[arg(long)]
        replace: bool,
        /// With --replace, do not ask
        #[arg(long, requires = "replace")]
        yes: bool,
    },
    /// Sign the tenant's manifest again with a new expiry (writers refuse an expired one)
    Refresh {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Bring a keyring restored from an older copy up to the vault's manifest, after checking
    /// every signed manifest in between
    Resync {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Accept a vault restored from a backup older than the keyring's last signature: shows what
    /// the keyring signed that the vault no longer holds, then signs a manifest past it and
    /// rotates every level whose current key was released or overtaken
    AcceptRestore {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Do not ask (needed when standard input is not a terminal)
        #[arg(long)]
        yes: bool,
    },
    /// Name an audit monitor key in the tenant's manifest (it may sign audit checkpoints, nothing
    /// else), or with --none remove it
    Monitor {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The tenant's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// The monitor's public key (64 hex digits, printed by `lockbox monitor init`)
        #[arg(long, value_name = "HEX", required_unless_present = "none", conflicts_with = "none")]
        key: Option<String>,
        /// How often the monitor signs (1m to 1d): an older monitor checkpoint counts as missing
        #[arg(long, value_parser = parse_duration, value_name = "DUR", default_value = "1h")]
        every: u64,
        /// Name no monitor
        #[arg(long)]
        none: bool,
    },
    /// Show or change how long grants may last and requests may wait (a change needs the
    /// keyring: it signs a new manifest)
    Policy {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The customer's keyring file (to change the policy)
        #[arg(short, long, value_name = "FILE")]
        keyring: Option<PathBuf>,
        #[command(flatten)]
        pass: PassArgs,
        /// Longest access a grant may give, e.g. 4h
        #[arg(long, value_parser = parse_duration, value_name = "DUR")]
        max_access: Option<u64>,
        /// How long a request waits for a decision, e.g. 12h
        #[arg(long, value_parser = parse_duration, value_name = "DUR")]
        request_ttl: Option<u64>,
        /// How long each signed manifest stays valid for writers (1h to 30d; default 7d): without
        /// an audit monitor, how long a withheld manifest can keep writers on a released epoch
        #[arg(long, value_parser = parse_duration, value_name = "DUR")]
        manifest_lifetime: Option<u64>,
    },
}

/// Level commands.
#[derive(Debug, Subcommand)]
pub enum LevelCmd {
    /// Add a level to a tenant
    Add {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// New level name
        level: String,
        /// The customer's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Start a new epoch: items written from now on use its key
    Rotate {
        /// Tenant name
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// Level name
        #[arg(add = ArgValueCompleter::new(complete::levels))]
        level: String,
        /// The customer's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Also re-wrap every existing item's data key to the new epoch (content is untouched)
        #[arg(long, conflicts_with = "reencrypt")]
        rewrap: bool,
        /// Also re-encrypt every existing item under a fresh data key for the new epoch (for an
        /// engineer who kept data keys: rewrap does not help there)
        #[arg(long)]
        reencrypt: bool,
    },
}
