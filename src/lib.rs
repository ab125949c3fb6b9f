//! lockbox: a vault whose operator cannot read tenant items.
//!
//! Items are encrypted one by one under fresh data keys, wrapped to the customer-held key of
//! their classification level. Layers, lowest first; a layer never imports a higher one:
//! [`format`](mod@format) (pure encode/decode) <- [`crypto`] <- [`files`] <- [`store`],
//! [`keyring`], [`trust`] <- [`audit`] <- [`vault`] <- [`lockbox`] (the workflow, on its own
//! type [`lockbox::Workflow`]) <- [`customer`] <- the CLI.
//!
//! Use [`customer`] for the changes that need the customer's keyring (create a tenant, add or
//! rotate a level, approve a request: the keyring prepares, the vault commits public material),
//! [`vault::Vault`] to store items (no private key needed), a [`keyring::Keyring`] to read them
//! as the customer, and [`lockbox::Workflow::engineer_keys`] to
//! read them as an engineer under a grant:
//!
//! ```
//! use std::io::Cursor;
//! use lockbox::format::KdfParams;
//! use lockbox::keyring::{Keyring, Passphrase};
//! use lockbox::vault::{PutOptions, Vault};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let vault = Vault::init(&dir.path().join("vault"))?;
//! let kdf = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 }; // cheap, for a doctest
//! let pass = Passphrase::new("a long passphrase".into());
//! let mut keyring = Keyring::create(&dir.path().join("acme.keyring"), &pass, kdf)?;
//! lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["internal".into(), "secret".into()])?;
//!
//! vault.put("acme", "notes.txt", "secret", &mut Cursor::new("hello"), PutOptions::default())?;
//! let mut out = Vec::new();
//! vault.get("acme", "notes.txt", &keyring, &mut out)?;
//! assert_eq!(out, b"hello");
//! # Ok(())
//! # }
//! ```
// One module holds unsafe code, and says why: crypto/aead.rs, which zeroizes ring's AES key.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod audit;
pub mod crypto;
pub mod customer;
pub mod files;
pub mod format;
pub mod keyring;
pub mod lockbox;
pub mod store;
pub mod trust;
pub mod vault;
pub mod writeback;
