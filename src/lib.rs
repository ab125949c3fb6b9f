//! lockbox: a vault whose operator cannot read tenant items.
//!
//! Items are encrypted one by one under fresh data keys, wrapped to the customer-held key of
//! their classification level. Layers, lowest first; a layer never imports a higher one:
//! [`format`] (pure encode/decode) <- [`crypto`] <- [`store`], [`keyring`] <- [`vault`] <- the CLI.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod crypto;
pub mod format;
pub mod keyring;
pub mod lockbox;
pub mod store;
pub mod vault;
