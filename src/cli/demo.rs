//! `lockbox demo`: the whole story on a temporary vault, narrated.

use std::io::Cursor;

use lockbox::audit::Verdict;
use lockbox::keyring::{DEFAULT_KDF, Identity, Keyring, Passphrase};
use lockbox::lockbox::{NewRequest, id_hex};
use lockbox::vault::{Caller, Error, PutOptions, Vault};

use super::output::outln;
use lockbox::lockbox::Workflow;

fn say(text: &str) {
    outln!("\n== {text}");
}

/// Runs the story, scene by scene; the temporary directory goes however it ends.
pub fn run() -> Result<(), Error> {
    let tmp = tempdir()?;
    let dir = tmp.join("vault");
    let vault = Vault::init(&dir)?.acting_as(Caller::new("vault-service"));
    say(&format!("A fresh vault in {}. It will hold only public keys.", dir.display()));
    let pass = Passphrase::new("demo passphrase, use a better one".into());
    let mut keyring = Keyring::create(&tmp.join("acme.keyring"), &pass, DEFAULT_KDF)?;
    create_and_fill(&vault, &mut keyring)?;
    let envelope = what_the_vault_sees(&vault, &keyring)?;
    tampering_is_caught(&vault, &keyring, &envelope)?;
    let eve = Identity::create(&tmp.join("eve.identity"), "eve", &pass, DEFAULT_KDF)?;
    engineer_access(&vault, &mut keyring, &eve)?;
    the_audit_log(&vault)?;
    say("Done. The temporary vault is removed.");
    Ok(())
}

fn create_and_fill(vault: &Vault, keyring: &mut Keyring) -> Result<(), Error> {
    let levels: Vec<String> = ["public", "internal", "confidential", "secret"].map(String::from).to_vec();
    let record = lockbox::customer::create_tenant(vault, keyring, "acme", &levels)?;
    say("Tenant acme chose four classification levels; one X25519 key pair each.");
    outln!(
        "   and a tenant signing key: every manifest of its levels' keys is signed; writers and engineers"
    );
    outln!(
        "   pin its fingerprint {}..., given to them outside the vault",
        &lockbox::format::hex(&lockbox::crypto::tenant_fingerprint(&record.signer))[..16]
    );
    outln!("   private halves: the customer's keyring {} (Argon2id + AES-256-GCM)", keyring.path().display());
    outln!("   public halves:  registered in the vault, after the keyring was saved durably");

    let items = [
        ("handbook.txt", "public", "Welcome to Acme."),
        ("runbooks/db.md", "internal", "Restart the primary with care."),
        ("contracts/globex.pdf", "confidential", "Globex pays 1,000,000 a year."),
        ("keys/root.txt", "secret", "The launch code is 0000."),
    ];
    say("The vault stores four items. `put` needs no private key: each item gets a fresh data key,");
    outln!("   wrapped to its level's public key; content is AES-256-GCM in chunks of just under 64 KiB.");
    for (id, level, text) in items {
        let info = vault.put("acme", id, level, &mut Cursor::new(text), PutOptions::default())?;
        outln!("   put {id:<22} level {level:<13} {}", lockbox::format::size(info.size));
    }
    Ok(())
}

fn what_the_vault_sees(vault: &Vault, keyring: &Keyring) -> Result<Vec<u8>, Error> {
    say("What the vault (and its operator) can see: names, levels, sizes, times. Not content.");
    let mut envelope = Vec::new();
    vault.get_raw("acme", "keys/root.txt", &mut envelope)?;
    outln!(
        "   keys/root.txt is stored as a {}-byte envelope; does it contain the text? {}",
        envelope.len(),
        contains(&envelope, b"launch code")
    );

    say("The customer reads with the keyring.");
    let mut out = Vec::new();
    vault.get("acme", "keys/root.txt", keyring, &mut out)?;
    outln!("   get keys/root.txt -> {:?}", String::from_utf8_lossy(&out));
    Ok(envelope)
}

fn tampering_is_caught(vault: &Vault, keyring: &Keyring, envelope: &[u8]) -> Result<(), Error> {
    say("Tampering is caught: flip one byte of the stored envelope and read again.");
    let mut bad = envelope.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    vault.put_raw("acme", "keys/root.txt", None, &mut Cursor::new(&bad), true)?;
    match vault.get("acme", "keys/root.txt", keyring, &mut Vec::new()) {
        Err(e) => outln!("   refused (exit {}): {}", super::exit_code(e.kind), e.message),
        Ok(_) => return Err(Error::other("demo: a tampered item was accepted")),
    }
    vault.put_raw("acme", "keys/root.txt", None, &mut Cursor::new(envelope), true)?;

    say("An envelope moved to another item id is refused.");
    match vault.put_raw("acme", "handbook.txt", None, &mut Cursor::new(envelope), true) {
        Err(e) => outln!("   refused (exit {}): {}", super::exit_code(e.kind), e.message),
        Ok(_) => return Err(Error::other("demo: a moved envelope was accepted")),
    }
    Ok(())
}

fn engineer_access(vault: &Vault, keyring: &mut Keyring, eve: &Identity) -> Result<(), Error> {
    say("Engineer eve enrolls: her own X25519 key pair, private half in her identity file.");
    Workflow::new(vault).enroll_engineer_key("eve", eve)?;
    let wanted: Vec<String> = ["internal", "confidential"].map(String::from).to_vec();
    let request = Workflow::new(vault).create_request(&NewRequest {
        tenant: "acme",
        engineer: "eve",
        levels: &wanted,
        reason: "Globex invoice import fails for acme",
        case_id: "CS-2026-1142",
        duration_secs: Some(3600),
    })?;
    outln!(
        "   eve asks for internal + confidential for 1h, case CS-2026-1142: request {}",
        id_hex(&request.id)
    );
    // Eve's client computes the digest from her own key; it travels in the support case.
    let digest = lockbox::lockbox::request_digest(&vault.id(), &request, &eve.secret.public().0)?;
    outln!(
        "   her client prints the request digest {}...; she puts it in the support case",
        &lockbox::format::hex(&digest)[..16]
    );

    say("The customer (alice) approves only `internal`, for 30 minutes, if the digest matches.");
    let alice = vault.acting_as(Caller::new("alice"));
    let only: Vec<String> = vec!["internal".into()];
    let grant = lockbox::customer::approve_request(
        &alice,
        keyring,
        &id_hex(&request.id),
        Some(&only),
        Some(1800),
        lockbox::customer::Confirmation::EngineersDigest(digest),
    )?;
    outln!("   grant {}: the internal key (epoch 1) is wrapped to eve's public key,", id_hex(&grant.id));
    outln!(
        "   bound to grant id, tenant, level, epoch, engineer and expiry; then internal rotates to epoch 2."
    );
    vault.put(
        "acme",
        "runbooks/new.md",
        "internal",
        &mut Cursor::new("Written after approval."),
        PutOptions::default(),
    )?;

    say("Eve reads with her identity. Only what was released, only what existed at approval.");
    let keys = Workflow::new(vault).engineer_keys(eve, "acme")?;
    for id in ["runbooks/db.md", "contracts/globex.pdf", "runbooks/new.md", "keys/root.txt"] {
        let mut out = Vec::new();
        match vault.get("acme", id, &keys, &mut out) {
            Ok(_) => outln!("   {id:<22} -> {:?}", String::from_utf8_lossy(&out)),
            Err(e) => outln!("   {id:<22} -> exit {}: {}", super::exit_code(e.kind), e.message),
        }
    }
    outln!("   (confidential and secret keys were never wrapped to eve: no database access changes that)");

    say("Alice revokes the grant early. The vault stops using it at once.");
    Workflow::new(&alice).revoke_grant(&id_hex(&grant.id))?;
    let keys = Workflow::new(vault).engineer_keys(eve, "acme")?;
    if let Err(e) = vault.get("acme", "runbooks/db.md", &keys, &mut Vec::new()) {
        outln!("   runbooks/db.md -> exit {}: {}", super::exit_code(e.kind), e.message);
    }
    Ok(())
}

fn the_audit_log(vault: &Vault) -> Result<(), Error> {
    say("Everything above is in the hash-chained audit log.");
    for e in vault.audit_entries(Some("acme"))?.iter().filter(|e| e.action() != "put") {
        outln!("   {:>2} {:<13} {:<16} {}", e.seq, e.actor, e.action(), super::audit_text::detail(e, 70));
    }
    if let Verdict::Intact { count, head } = vault.verify_audit(None)? {
        outln!("   verify: intact, {count} entries, head {}", lockbox::format::hex(&head));
    }

    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The demo's temporary directory, removed however the demo ends (an error, a closed output
/// pipe, an internal error unwinding through `run`).
pub struct TempDir(pub std::path::PathBuf);

impl std::ops::Deref for TempDir {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn tempdir() -> Result<TempDir, Error> {
    let suffix: [u8; 8] = lockbox::crypto::random_array()?;
    let name = lockbox::format::hex(&suffix);
    let dir = std::env::temp_dir().join(format!("lockbox-demo-{name}"));
    std::fs::create_dir(&dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
    Ok(TempDir(dir))
}
