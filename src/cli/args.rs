//! Command-line definitions (clap). Values are validated by the vault, not here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// lockbox: a vault whose operator cannot read tenant items; engineers read only the
/// classification levels a customer releases, for as long as the customer allows.
#[derive(Debug, Parser)]
#[command(name = "lockbox", version, about, max_term_width = 100)]
pub struct Cli {
    /// Vault directory [default: a per-user data directory, e.g. ~/.local/share/lockbox]
    #[arg(long, global = true, env = "LOCKBOX_VAULT", value_name = "DIR")]
    pub vault: Option<PathBuf>,

    /// Machine-readable JSON output
    #[arg(long, global = true)]
    pub json: bool,

    /// Read the keyring or identity passphrase from FILE (else LOCKBOX_PASSPHRASE, else a prompt)
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,

    /// Who is acting, for the audit log [default: LOCKBOX_ACTOR, else $USER]
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,

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
    /// Add classification levels
    #[command(subcommand)]
    Level(LevelCmd),
    /// Encrypt and store an item (needs no private key)
    Put(PutArgs),
    /// Decrypt an item with the customer's keyring
    Get(GetArgs),
    /// List a tenant's items (what the vault can see: ids, levels, sizes, times)
    List(ListArgs),
    /// Remove an item
    Rm(ItemRef),
    /// Show the whole story on a temporary vault, narrated
    Demo,
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
        #[arg(long, value_name = "FILE")]
        keyring: PathBuf,
    },
    /// List tenants
    List,
    /// Show a tenant's levels, epochs and policy
    Show {
        /// Tenant name
        tenant: String,
    },
}

/// Level commands.
#[derive(Debug, Subcommand)]
pub enum LevelCmd {
    /// Add a level to a tenant
    Add {
        /// Tenant name
        tenant: String,
        /// New level name
        level: String,
        /// The customer's keyring file
        #[arg(long, value_name = "FILE")]
        keyring: PathBuf,
    },
}

/// An item.
#[derive(Debug, Args)]
pub struct ItemRef {
    /// Tenant name
    pub tenant: String,
    /// Item id: up to 1024 bytes of UTF-8, no control characters
    pub item: String,
}

/// `put` arguments.
#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    pub item: ItemRef,
    /// Classification level (required unless --raw)
    #[arg(long)]
    pub level: Option<String>,
    /// Read the content from PATH instead of standard input
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Overwrite an existing item
    #[arg(long)]
    pub replace: bool,
    /// The input is a portable envelope (as printed by `get --raw`), stored as it is
    #[arg(long)]
    pub raw: bool,
    /// Plaintext bytes per chunk
    #[arg(long, default_value_t = lockbox::format::DEFAULT_CHUNK_SIZE, value_name = "BYTES")]
    pub chunk_size: u32,
}

/// `get` arguments.
#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub item: ItemRef,
    /// The customer's keyring file (required unless --raw)
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    /// Write to PATH (atomically) instead of standard output
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Print the portable envelope (still encrypted); needs no key
    #[arg(long, conflicts_with = "keyring")]
    pub raw: bool,
}

/// `list` arguments.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Tenant name
    pub tenant: String,
    /// Only items of this level
    #[arg(long)]
    pub level: Option<String>,
}
