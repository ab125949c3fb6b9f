//! Engineers, requests and grants: the lockbox workflow's commands.

use std::path::PathBuf;

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;

use super::*;

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
