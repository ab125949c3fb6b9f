//! The server's API tokens: made once, kept only as a hash, found by id and compared in
//! constant time, refused when wrong, revoked or expired.

use lockbox::keyring::{Keyring, Passphrase};
use lockbox::store::Reads;
use lockbox::vault::{Caller, ErrorKind, NewToken, Role, Vault};

use crate::kit::CHEAP;
use lockbox::lockbox::Workflow;

fn vault(dir: &std::path::Path) -> Vault {
    let vault = Vault::init(&dir.join("v")).unwrap().acting_as(Caller::at("admin", 1_000_000));
    let mut keyring = Keyring::create(&dir.join("k"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "acme", &["secret".into()]).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "globex", &["secret".into()]).unwrap();
    Workflow::new(&vault)
        .enroll_engineer("eve", &dir.join("eve.id"), &Passphrase::new("pw".into()), CHEAP)
        .unwrap();
    vault
}

fn new(role: Role, tenant: &str, engineer: Option<&str>, lifetime_secs: u64) -> NewToken {
    NewToken {
        role,
        tenant: tenant.into(),
        engineer: engineer.map(str::to_owned),
        lifetime_secs,
        new_tenant: false,
    }
}

#[test]
fn a_token_lets_in_its_role_and_tenant_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let (info, token) = vault.create_token(&new(Role::Writer, "acme", None, 3600)).unwrap();
    let text = token.expose().to_owned();
    assert!(text.starts_with("lbx_") && text.len() == 64, "{text}");
    assert_eq!(format!("{token:?}"), "Token(..)", "never printed");
    assert_eq!((info.expires, info.revoked), (1_000_000 + 3600, None));
    let who = vault.authenticate(&text).unwrap();
    assert_eq!((who.role, who.tenant.as_str(), who.token.as_str()), (Role::Writer, "acme", info.id.as_str()));
    assert_eq!(who.actor(), format!("writer {}", info.id));

    // Wrong in any way before the secret is proven: one answer, which says nothing more.
    let mut flipped = text.clone().into_bytes();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let unknown_id = format!("lbx_{}{}", "0".repeat(16), &text[20..]);
    for bad in [
        String::from_utf8(flipped).unwrap(),
        unknown_id,
        text[..63].to_owned(),
        format!("{text}x"),
        text.replace("lbx_", "lbz_"),
        String::new(),
        "lbx_é".repeat(12),
    ] {
        let e = vault.authenticate(&bad).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::AccessDenied, "access denied: the token is not valid")
        );
    }

    // The vault keeps the hash, never the token: not in any record, not in a backup.
    let mut backup = Vec::new();
    vault.backup_to(&mut backup, "memory").unwrap();
    assert!(!backup.windows(43).any(|w| w == &text.as_bytes()[21..]), "the secret is in the vault");
    let db = lockbox::store::RedbStore::open(&dir.path().join("v").join(lockbox::vault::DB_FILE)).unwrap();
    let mut stored = Vec::new();
    db.begin_raw_read()
        .unwrap()
        .for_each_token(&mut |_, t| {
            stored.push(t.unwrap());
            Ok(true)
        })
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].hash, lockbox::crypto::sha256(text.as_bytes()));
}

#[test]
fn revoked_and_expired_tokens_are_refused_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let (a, token_a) = vault.create_token(&new(Role::Customer, "acme", None, 60)).unwrap();
    let (b, token_b) = vault.create_token(&new(Role::Engineer, "acme", Some("eve"), 600)).unwrap();
    assert_eq!(vault.authenticate(token_b.expose()).unwrap().actor(), format!("engineer {} (eve)", b.id));
    let later = vault.acting_as(Caller::at("admin", 1_000_060));
    let e = later.authenticate(token_a.expose()).unwrap_err();
    assert!(e.kind == ErrorKind::AccessDenied && e.message.contains("expired"), "{e}");
    assert!(later.authenticate(token_b.expose()).is_ok(), "the other still works");
    let revoked = later.revoke_token(&b.id).unwrap();
    assert_eq!(revoked.revoked, Some(1_000_060));
    let e = later.authenticate(token_b.expose()).unwrap_err();
    assert!(e.kind == ErrorKind::AccessDenied && e.message.contains("revoked"), "{e}");
    assert_eq!(later.revoke_token(&b.id).unwrap_err().kind, ErrorKind::Conflict);
    assert_eq!(later.revoke_token("0000000000000000").unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(later.revoke_token("not an id").unwrap_err().kind, ErrorKind::Usage);
    let listed = later.tokens().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|t| t.id == a.id && t.revoked.is_none()));
}

#[test]
fn a_token_is_made_only_for_what_exists_and_for_a_bounded_time() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let refused = |n: NewToken| vault.create_token(&n).unwrap_err().kind;
    assert_eq!(refused(new(Role::Writer, "nobody", None, 60)), ErrorKind::NotFound);
    assert_eq!(refused(new(Role::Engineer, "acme", None, 60)), ErrorKind::Usage);
    // An engineer token may come before its engineer enrolls: it is what enrolls them.
    assert!(vault.create_token(&new(Role::Engineer, "acme", Some("mallory"), 60)).is_ok());
    assert_eq!(refused(new(Role::Writer, "acme", Some("eve"), 60)), ErrorKind::Usage);
    assert_eq!(refused(new(Role::Writer, "acme", None, 0)), ErrorKind::Usage);
    assert_eq!(
        refused(new(Role::Writer, "acme", None, lockbox::vault::MAX_TOKEN_SECS + 1)),
        ErrorKind::Usage
    );
    assert_eq!(refused(new(Role::Writer, "bad name!", None, 60)), ErrorKind::Usage);
    assert_eq!(vault.tokens().unwrap().len(), 1, "nothing stored by a refusal");
    for role in Role::ALL {
        assert_eq!(Role::named(role.name()), Some(role));
    }
}

/// A token is for the tenant it was made for, not for another made later under its name; an
/// engineer's token ends when the engineer is removed.
#[test]
fn a_token_outlives_neither_its_tenant_nor_its_engineer() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let (_, writer) = vault.create_token(&new(Role::Writer, "acme", None, 3600)).unwrap();
    let (_, eve) = vault.create_token(&new(Role::Engineer, "globex", Some("eve"), 3600)).unwrap();
    assert!(vault.authenticate(writer.expose()).is_ok() && vault.authenticate(eve.expose()).is_ok());
    let mut keyring = Keyring::open(&dir.path().join("k"), &Passphrase::new("pw".into())).unwrap();
    lockbox::customer::delete_tenant(&vault, &mut keyring, "acme").unwrap();
    let mut other = Keyring::create(&dir.path().join("k2"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut other, "acme", &["secret".into()]).unwrap();
    let e = vault.authenticate(writer.expose()).unwrap_err();
    assert!(e.kind == ErrorKind::AccessDenied && e.message.contains("no longer there"), "{e}");
    Workflow::new(&vault).remove_engineer("eve").unwrap();
    let e = vault.authenticate(eve.expose()).unwrap_err();
    assert!(e.kind == ErrorKind::AccessDenied && e.message.contains("was revoked"), "{e}");
}

/// A customer token made for a tenant not created yet lets its holder in only while there is
/// no such tenant (to create it through a server, which binds that token: tests/cli/server.rs);
/// a tenant created otherwise (here, by the administrator) binds none, and the token is out.
/// No other role, and no tenant that exists, gets one.
#[test]
fn a_token_for_a_new_tenant_works_only_until_the_tenant_exists_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let vault = vault(dir.path());
    let onboard = |role: Role, tenant: &str| NewToken { new_tenant: true, ..new(role, tenant, None, 3600) };
    let e = vault.create_token(&onboard(Role::Writer, "newco")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Usage, "{e}");
    let e = vault.create_token(&onboard(Role::Customer, "acme")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict, "{e}");
    let e = vault.create_token(&new(Role::Customer, "newco", None, 3600)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "without asking for a new tenant: {e}");

    let (_, token) = vault.create_token(&onboard(Role::Customer, "newco")).unwrap();
    let who = vault.authenticate(token.expose()).unwrap();
    assert_eq!((who.role, who.tenant.as_str()), (Role::Customer, "newco"));
    let mut keyring = Keyring::create(&dir.path().join("new"), &Passphrase::new("pw".into()), CHEAP).unwrap();
    lockbox::customer::create_tenant(&vault, &mut keyring, "newco", &["secret".into()]).unwrap();
    let e = vault.authenticate(token.expose()).unwrap_err();
    assert!(e.kind == ErrorKind::AccessDenied && e.message.contains("exists now"), "{e}");
}
