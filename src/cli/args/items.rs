//! What item commands share: the item named, put, get, list, and where a passphrase comes from.

use std::path::PathBuf;

use clap::Args;
use clap_complete::engine::ArgValueCompleter;

use super::*;

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
