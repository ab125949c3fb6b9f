//! Command-line definitions (clap). Values are validated by the vault, not here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use super::complete;

/// lockbox: a vault whose operator cannot read tenant items; engineers read only the
/// classification levels a customer releases, for as long as the customer allows.
#[derive(Debug, Parser)]
#[command(name = "lockbox", version, about, max_term_width = 100)]
pub struct Cli {
    /// Vault directory [default: a per-user data directory, e.g. ~/.local/share/lockbox]
    #[arg(long, global = true, help_heading = "Global options", env = "LOCKBOX_VAULT", value_name = "DIR")]
    pub vault: Option<PathBuf>,

    /// Machine-readable JSON output
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    /// Who is acting, for the audit log [default: LOCKBOX_ACTOR, else $USER, else the login name]
    #[arg(long, global = true, help_heading = "Global options", value_name = "NAME")]
    pub actor: Option<String>,

    /// If another lockbox process has the vault open, retry for up to DUR (e.g. 30s, 5m)
    /// instead of exiting 7 at once
    #[arg(long, global = true, help_heading = "Global options", env = "LOCKBOX_WAIT", value_parser = parse_duration, value_name = "DUR")]
    pub wait: Option<u64>,

    /// This machine's trust store: the tenant keys it pinned [default: a per-user config
    /// file, e.g. ~/.config/lockbox/trust]
    #[arg(long, global = true, help_heading = "Global options", env = "LOCKBOX_TRUST", value_name = "FILE")]
    pub trust: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new, empty vault
    Init,
    /// Create, list and show tenants
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Add a classification level to a tenant, or rotate a level to a new key epoch
    #[command(subcommand)]
    Level(LevelCmd),
    /// Encrypt and store an item (needs no private key)
    Put(PutArgs),
    /// Decrypt an item with the customer's keyring or an engineer's identity
    Get(GetArgs),
    /// List a tenant's items (what the vault can see: ids, levels, sizes, times)
    List(ListArgs),
    /// Remove an item
    Rm(ItemRef),
    /// Enroll and list support engineers
    #[command(subcommand)]
    Engineer(EngineerCmd),
    /// File, list, approve and deny access requests
    #[command(subcommand)]
    Request(RequestCmd),
    /// List and revoke grants
    #[command(subcommand)]
    Grant(GrantCmd),
    /// Show and verify the hash-chained audit log
    #[command(subcommand)]
    Audit(AuditCmd),
    /// An audit monitor: a key that signs checkpoints of a tenant's audit chain on a schedule
    #[command(subcommand)]
    Monitor(MonitorCmd),
    /// Store every file under DIR as an item (id = path relative to DIR)
    Import {
        /// Tenant
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// Classification level of every imported item
        #[arg(add = ArgValueCompleter::new(complete::levels), short, long)]
        level: String,
        /// Directory to import
        dir: PathBuf,
        /// Overwrite items that already exist
        #[arg(long)]
        replace: bool,
    },
    /// Decrypt every item a keyring or identity can open into files under DIR
    Export {
        /// Tenant
        #[arg(add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// Directory to write (created if needed)
        dir: PathBuf,
        /// The customer's keyring file
        #[arg(short, long, value_name = "FILE", conflicts_with = "identity")]
        keyring: Option<PathBuf>,
        /// An engineer's identity file
        #[arg(short, long, value_name = "FILE")]
        identity: Option<PathBuf>,
        #[command(flatten)]
        pass: PassArgs,
        /// Overwrite files already in DIR (else each such item is skipped and reported)
        #[arg(long)]
        replace: bool,
        /// Only items of this level
        #[arg(add = ArgValueCompleter::new(complete::levels), short, long)]
        level: Option<String>,
        /// Only items whose id starts with PREFIX
        #[arg(long, value_name = "PREFIX")]
        prefix: Option<String>,
    },
    /// Scan the whole vault for damage (exit 5 if any); with --keyring also decrypt every item
    Verify {
        /// Only this tenant's items
        #[arg(add = ArgValueCompleter::new(complete::tenants), long)]
        tenant: Option<String>,
        /// Also decrypt every item this keyring can open
        #[arg(short, long, value_name = "FILE")]
        keyring: Option<PathBuf>,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Write a consistent, self-checking snapshot of the vault to FILE (still encrypted)
    Backup {
        /// The backup file to write (atomically), a FIFO or device to stream it to, or - for
        /// standard output
        file: PathBuf,
        /// Overwrite FILE if it exists (else refused, exit 6)
        #[arg(long)]
        replace: bool,
    },
    /// Rebuild a vault from a backup into --vault DIR (which must not hold a vault yet)
    Restore {
        /// The backup file, or - for standard input
        file: PathBuf,
    },
    /// Change the passphrase of a keyring, engineer identity or audit monitor key file
    ///
    /// The current passphrase comes from --passphrase-file, LOCKBOX_PASSPHRASE or a prompt; the
    /// new one from --new-passphrase-file, LOCKBOX_NEW_PASSPHRASE or a prompt (twice).
    Passwd {
        /// The key file
        file: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Read the new passphrase from FILE
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
    },
    /// Give the space of removed items back to the file system (the vault must not be in use
    /// by another process)
    Compact,
    /// Show the whole story on a temporary vault, narrated
    Demo,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `lockbox man > lockbox.1; man ./lockbox.1`
    Man,
}

/// Engineer commands.
#[derive(Debug, Subcommand)]
pub enum EngineerCmd {
    /// Create a passphrase-protected identity file and register its public key
    Enroll {
        /// Engineer name: [a-z0-9][a-z0-9-]{0,62}
        name: String,
        /// The identity file to create
        #[arg(short, long, value_name = "FILE")]
        identity: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// List enrolled engineers
    List,
    /// Remove an engineer: their active grants are revoked and undecided requests denied
    Remove {
        /// Engineer name
        name: String,
    },
    /// Pin, in the keyring, the engineer key the vault shows now, after checking its
    /// fingerprint with the engineer (needed once an engineer's key changed)
    Trust {
        /// Engineer name
        name: String,
        /// The key fingerprint the engineer gave you (32 hex digits)
        fingerprint: String,
        /// Tenant whose keyring pins it
        #[arg(add = ArgValueCompleter::new(complete::tenants), long)]
        tenant: String,
        /// The customer's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
}

/// Request commands.
#[derive(Debug, Subcommand)]
pub enum RequestCmd {
    /// File a request; prints its id and its digest (give both to the customer through the
    /// support case: the digest is what the customer checks before approving)
    Create {
        /// Tenant
        #[arg(add = ArgValueCompleter::new(complete::tenants), long)]
        tenant: String,
        /// The requesting engineer's identity file (the digest binds its key)
        #[arg(short, long, value_name = "FILE")]
        identity: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
        /// Comma-separated levels wanted
        #[arg(long, value_delimiter = ',', required = true)]
        levels: Vec<String>,
        /// Justification
        #[arg(long)]
        reason: String,
        /// Support case id
        #[arg(long = "case", value_name = "ID")]
        case_id: String,
        /// Access wanted, e.g. 90s, 30m, 4h [default: the tenant's maximum]
        #[arg(long, value_parser = parse_duration, value_name = "DUR")]
        duration: Option<u64>,
    },
    /// List requests
    List {
        /// Only this tenant's
        #[arg(add = ArgValueCompleter::new(complete::tenants), long)]
        tenant: Option<String>,
        /// Only those in this state
        #[arg(long, value_parser = ["pending", "approved", "denied", "expired", "revoked"])]
        status: Option<String>,
    },
    /// Show a request (without any secret)
    Show {
        /// Request id, or a unique prefix of at least 6 hex digits
        #[arg(add = ArgValueCompleter::new(complete::requests))]
        id: String,
    },
    /// Approve a request for some or all of its levels; prints only the grant id. Shows the
    /// request and asks for confirmation on a terminal; elsewhere --expect is required
    Approve {
        /// Request id, all 32 hex digits
        #[arg(add = ArgValueCompleter::new(complete::requests))]
        id: String,
        /// The request digest the engineer gave you outside the vault (64 hex digits): nothing
        /// is released unless the request and the engineer's key match it
        #[arg(long, value_name = "DIGEST")]
        expect: Option<String>,
        /// Comma-separated subset of the requested levels [default: all requested]
        #[arg(long, value_delimiter = ',')]
        levels: Option<Vec<String>>,
        /// A shorter access duration than requested
        #[arg(long, value_parser = parse_duration, value_name = "DUR")]
        duration: Option<u64>,
        /// The customer's keyring file
        #[arg(short, long, value_name = "FILE")]
        keyring: PathBuf,
        #[command(flatten)]
        pass: PassArgs,
    },
    /// Deny a request
    Deny {
        /// Request id
        #[arg(add = ArgValueCompleter::new(complete::requests))]
        id: String,
        /// Why
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Grant commands.
#[derive(Debug, Subcommand)]
pub enum GrantCmd {
    /// List grants
    List {
        /// Only this tenant's
        #[arg(add = ArgValueCompleter::new(complete::tenants), long)]
        tenant: Option<String>,
        /// Only this engineer's
        #[arg(long)]
        engineer: Option<String>,
        /// Only those in this state
        #[arg(long, value_parser = ["active", "expired", "revoked"])]
        status: Option<String>,
    },
    /// Show a grant: what it releases, to whom, until when, approved by whom
    Show {
        /// Grant id, or a unique prefix of at least 6 hex digits
        #[arg(add = ArgValueCompleter::new(complete::grants))]
        id: String,
    },
    /// Revoke an active grant now
    Revoke {
        /// Grant id, or a unique prefix of at least 6 hex digits
        #[arg(add = ArgValueCompleter::new(complete::grants))]
        id: String,
    },
}

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

/// Parses a duration (`90s`, `30m`, `4h`, `1h 30m`, `1h30m`, `2d`: humantime's syntax) into
/// whole seconds, from 1 second to 30 days.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{text:?} is not a duration like 90s, 30m, 4h, 1h30m or 2d ({e})"))?;
    if d.subsec_nanos() != 0 {
        return Err(format!("{text:?}: durations are whole seconds"));
    }
    match d.as_secs() {
        0 => Err("a duration must be longer than zero".into()),
        secs if secs <= lockbox::vault::MAX_DURATION_SECS => Ok(secs),
        _ => Err(format!("{text:?} is longer than 30 days")),
    }
}

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

/// An item.
#[derive(Debug, Args)]
pub struct ItemRef {
    /// Tenant name
    #[arg(add = ArgValueCompleter::new(complete::tenants))]
    pub tenant: String,
    /// Item id: up to 1024 bytes of UTF-8, no control characters
    #[arg(add = ArgValueCompleter::new(complete::items))]
    pub item: String,
}

/// `put` arguments.
#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub item: ItemRef,
    /// Classification level (required unless --raw)
    #[arg(add = ArgValueCompleter::new(complete::levels), short, long)]
    pub level: Option<String>,
    /// Read the content from PATH instead of standard input (- is standard input)
    #[arg(short, long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Overwrite an existing item
    #[arg(long)]
    pub replace: bool,
    /// The input is a portable envelope (as printed by `get --raw`), stored as it is
    #[arg(long)]
    pub raw: bool,
    /// Plaintext bytes per chunk (16 to 16777216)
    #[arg(long, default_value_t = lockbox::format::DEFAULT_CHUNK_SIZE, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(
              lockbox::format::MIN_CHUNK_SIZE as i64..=lockbox::format::MAX_CHUNK_SIZE as i64))]
    pub chunk_size: u32,
}

/// `get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub item: ItemRef,
    /// The customer's keyring file
    #[arg(short, long, value_name = "FILE", conflicts_with = "identity")]
    pub keyring: Option<PathBuf>,
    /// An engineer's identity file: reads only what an active grant releases
    #[arg(short, long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    #[command(flatten)]
    pub pass: PassArgs,
    /// Write to PATH (atomically) instead of standard output; - is standard output, written even
    /// when it is a terminal and the item is binary (refused otherwise)
    #[arg(short, long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Print the portable envelope (still encrypted); needs no key
    #[arg(long, conflicts_with_all = ["keyring", "identity"])]
    pub raw: bool,
    /// Overwrite the --out file if it exists (else refused, exit 6)
    #[arg(long, requires = "out")]
    pub replace: bool,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Tenant name
    #[arg(add = ArgValueCompleter::new(complete::tenants))]
    pub tenant: String,
    /// Only items of this level
    #[arg(add = ArgValueCompleter::new(complete::levels), short, long)]
    pub level: Option<String>,
    /// Only items whose id starts with PREFIX (e.g. `runbooks/`)
    #[arg(long, value_name = "PREFIX")]
    pub prefix: Option<String>,
}

/// Where the passphrase of a keyring or identity comes from, for the commands that open one.
#[derive(Debug, Args, Default)]
pub struct PassArgs {
    /// Read the keyring or identity passphrase from FILE (else LOCKBOX_PASSPHRASE, else a prompt)
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

impl Command {
    /// The `--passphrase-file` of the command, if it opens a key and was given one.
    pub fn passphrase_file(&self) -> Option<&PathBuf> {
        let pass = match self {
            Command::Get(args) => &args.pass,
            Command::Export { pass, .. } | Command::Verify { pass, .. } => pass,
            Command::Engineer(EngineerCmd::Enroll { pass, .. } | EngineerCmd::Trust { pass, .. }) => pass,
            Command::Audit(AuditCmd::Verify { pass, .. } | AuditCmd::Checkpoint { pass, .. }) => pass,
            Command::Request(RequestCmd::Approve { pass, .. } | RequestCmd::Create { pass, .. }) => pass,
            Command::Tenant(
                TenantCmd::Create { pass, .. }
                | TenantCmd::Delete { pass, .. }
                | TenantCmd::Policy { pass, .. }
                | TenantCmd::Refresh { pass, .. }
                | TenantCmd::Monitor { pass, .. }
                | TenantCmd::Resync { pass, .. }
                | TenantCmd::AcceptRestore { pass, .. },
            ) => pass,
            Command::Passwd { pass, .. } => pass,
            Command::Level(LevelCmd::Add { pass, .. } | LevelCmd::Rotate { pass, .. }) => pass,
            Command::Monitor(
                MonitorCmd::Init { pass, .. }
                | MonitorCmd::Trust { pass, .. }
                | MonitorCmd::Checkpoint { pass, .. },
            ) => pass,
            _ => return None,
        };
        pass.passphrase_file.as_ref()
    }
}
