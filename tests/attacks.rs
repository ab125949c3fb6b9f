//! The operator is the attacker: every test here edits the vault's records through the
//! library's own store API (or rolls the whole database file back), exactly as someone holding
//! the database could, and shows that the customer-rooted checks refuse and nothing leaks: no
//! key blob wrapped to a key the customer did not approve, no item wrapped to an epoch the
//! newest manifest retired, no keyring command on a vault whose manifest is not the keyring's.
//!
//! One binary, a module per area; `world` holds the parties and the operator's tools.

#[path = "kit/mod.rs"]
mod kit;

#[path = "attacks/keys.rs"]
mod keys;
#[path = "attacks/log.rs"]
mod log;
#[path = "attacks/monitor.rs"]
mod monitor;
#[path = "attacks/world.rs"]
mod world;
