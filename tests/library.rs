//! The library through its public API, one module per area: the vault, the lockbox workflow,
//! the customer's prepare-and-commit, bulk moves, the store contract, codecs and vectors, the
//! layering of the source. The operator's attacks are in `attacks.rs`, the command line in
//! `cli.rs`, crash consistency in `crash.rs`.

#[path = "library/bulk.rs"]
mod bulk;
#[path = "library/caller.rs"]
mod caller;
#[path = "library/customer.rs"]
mod customer;
#[path = "library/errors.rs"]
mod errors;
#[path = "kit/mod.rs"]
mod kit;
#[path = "library/layers.rs"]
mod layers;
#[path = "library/properties.rs"]
mod properties;
#[path = "library/reliability.rs"]
mod reliability;
#[path = "library/remote.rs"]
mod remote;
#[path = "library/store_contract.rs"]
mod store_contract;
#[path = "library/threads.rs"]
mod threads;
#[path = "library/tokens.rs"]
mod tokens;
#[path = "library/vault.rs"]
mod vault;
#[path = "library/vectors.rs"]
mod vectors;
#[path = "library/workflow.rs"]
mod workflow;
