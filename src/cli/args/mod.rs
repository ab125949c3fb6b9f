//! Command-line definitions (clap). Values are validated by the vault, not here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use super::complete;

mod audit;
mod items;
mod server;
mod tenants;
mod workflow;

pub use audit::{AuditCmd, MonitorCmd};
pub use items::{GetArgs, ItemRef, ListArgs, PassArgs, PutArgs};
pub use server::{TokenCmd, WebhookCmd};
pub use tenants::{LevelCmd, TenantCmd};
pub use workflow::{EngineerCmd, GrantCmd, RequestCmd};

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

    /// While another lockbox process holds the vault alone (compacting it), or (for compact)
    /// has it open, retry for up to DUR (e.g. 30s, 5m) instead of exiting 7 at once
    #[arg(long, global = true, help_heading = "Global options", env = "LOCKBOX_WAIT", value_parser = parse_duration, value_name = "DUR")]
    pub wait: Option<u64>,

    /// Work through a lockbox server instead of a local vault (`demo --server`, with no URL:
    /// the demo through a server of its own)
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        env = "LOCKBOX_SERVER",
        value_name = "URL",
        num_args = 0..=1,
        default_missing_value = ""
    )]
    pub server: Option<String>,

    /// The server's certificate pin (sha256/BASE64, as `lockbox serve` prints it); repeat (or
    /// separate with commas) to accept several while it rotates
    #[arg(
        long = "server-pin",
        global = true,
        help_heading = "Global options",
        env = "LOCKBOX_SERVER_PIN",
        value_delimiter = ',',
        value_name = "PIN"
    )]
    pub server_pins: Vec<String>,

    /// A file holding the API token for --server (else LOCKBOX_TOKEN)
    #[arg(long, global = true, help_heading = "Global options", value_name = "FILE")]
    pub token_file: Option<PathBuf>,

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
    /// The server's API tokens: make, list and revoke them
    #[command(subcommand)]
    Token(TokenCmd),
    /// The server's webhooks: notices of a tenant's requests and grants, signed, retried
    #[command(subcommand)]
    Webhook(WebhookCmd),
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
    /// Give the space of removed items back to the file system (no other process may have the
    /// vault open meanwhile)
    Compact,
    /// Serve the vault over HTTPS to writers, customers and engineers on other machines
    Serve {
        /// Address to listen on (port 0: any free port; the one taken is printed)
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
        /// The server's certificate chain (PEM) [default: a self-signed one, made once and
        /// kept in the vault directory]
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM)
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve plain HTTP (a loopback address only; for a TLS proxy in front, or tests)
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        plain_http: bool,
        /// An endpoint `webhook add` may name on a private or loopback address, or over plain
        /// http (HOST:PORT; repeatable)
        #[arg(long, value_name = "HOST:PORT")]
        webhook_allow: Vec<String>,
        /// Seconds before a failed notice is sent again (doubled for each attempt, at most an hour)
        #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
        webhook_backoff: u64,
        /// Print the API's OpenAPI document (as served at /openapi.json) and exit
        #[arg(long)]
        print_openapi: bool,
        /// Requests a second each token may send (bursts of twice that); more get 429
        #[arg(long, value_name = "N", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
        rate_limit: u32,
    },
    /// Show the whole story on a temporary vault, narrated (`--server`: through a real
    /// `lockbox serve` on loopback, each party in a directory of its own)
    Demo,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `lockbox man > lockbox.1; man ./lockbox.1`
    Man,
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
