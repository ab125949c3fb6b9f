//! The server's principals (API tokens) and its notices (webhooks).

use clap::Subcommand;
use clap_complete::engine::ArgValueCompleter;

use super::*;

/// Token commands (run by the server's administrator, against the server's vault).
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Make an API token and print it once (only its hash is kept)
    Create {
        /// What it may do: writer, customer, engineer, monitor or auditor
        #[arg(short, long, value_parser = ["writer", "customer", "engineer", "monitor", "auditor"])]
        role: String,
        /// The one tenant it may act on
        #[arg(short, long, add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// The engineer it stands for (engineer tokens only)
        #[arg(short, long)]
        engineer: Option<String>,
        /// How long it works (e.g. 8h, 30d; at most 366d)
        #[arg(long, value_parser = parse_duration, value_name = "DUR", default_value = "30d")]
        expires: u64,
        /// A customer token for a tenant not created yet: the customer creates it from their own
        /// machine (`--server URL tenant create`), so its keys never touch the server's
        #[arg(long)]
        new_tenant: bool,
    },
    /// List tokens (ids, roles, tenants, expiry; never the tokens)
    List,
    /// Revoke a token: it lets nobody in from now on
    Revoke {
        /// The token's id (16 hex digits, as `token list` shows)
        id: String,
    },
}

/// Webhook commands (run by the server's administrator, against the server's vault; the
/// running server sends what they set up).
#[derive(Debug, Subcommand)]
pub enum WebhookCmd {
    /// Add an endpoint for a tenant's notices; prints its signing secret once
    Add {
        /// The tenant whose requests and grants it hears of
        #[arg(short, long, add = ArgValueCompleter::new(complete::tenants))]
        tenant: String,
        /// Where to POST notices (https; http only to an address `serve --webhook-allow` names)
        url: String,
    },
    /// List endpoints (never their secrets)
    List {
        /// Only this tenant's
        #[arg(short, long, add = ArgValueCompleter::new(complete::tenants))]
        tenant: Option<String>,
    },
    /// Remove an endpoint and its delivery log
    Remove {
        /// The webhook's id (16 hex digits)
        id: String,
    },
    /// Give an endpoint a new secret (printed once); the old one also signs for 24 hours
    Rotate {
        /// The webhook's id (16 hex digits)
        id: String,
    },
    /// The delivery log: each notice, its attempts and how the last one went
    Deliveries {
        /// Only this tenant's
        #[arg(short, long, add = ArgValueCompleter::new(complete::tenants))]
        tenant: Option<String>,
    },
}
