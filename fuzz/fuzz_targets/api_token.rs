//! A presented API token (what a server reads from a request's header): any string is refused
//! with the one answer, never a panic, unless it is the token made in this vault.
#![no_main]
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use lockbox::vault::{NewToken, Role, Vault};

/// A vault with one tenant and one token (its text kept to check it still works).
static VAULT: LazyLock<(Vault, String)> = LazyLock::new(|| {
    let vault = Vault::in_memory();
    let mut keyring = lockbox::keyring::Keyring::in_memory();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["secret".into()]).unwrap();
    let new = NewToken {
        role: Role::Writer,
        tenant: "acme".into(),
        engineer: None,
        lifetime_secs: 3600,
        new_tenant: false,
    };
    let (_, token) = vault.create_token(&new).unwrap();
    (vault, token.expose().to_owned())
});

fuzz_target!(|data: &[u8]| {
    let (vault, token) = &*VAULT;
    let Ok(text) = std::str::from_utf8(data) else { return };
    match vault.authenticate(text) {
        Ok(who) => assert!(text == token && who.tenant == "acme"),
        Err(e) => assert_eq!(e.message, "access denied: the token is not valid"),
    }
});
