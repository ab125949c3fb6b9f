//! `lockbox demo`: the whole story on a temporary vault, narrated.

use std::io::Cursor;

use lockbox::keyring::{DEFAULT_KDF, Keyring, Passphrase};
use lockbox::vault::{Error, PutOptions, Vault};

fn say(text: &str) {
    println!("\n== {text}");
}

pub fn run() -> Result<(), Error> {
    let tmp = tempdir()?;
    let dir = tmp.join("vault");
    let vault = Vault::init(&dir)?;
    say(&format!("A fresh vault in {}. It will hold only public keys.", dir.display()));

    let pass = Passphrase::new("demo passphrase, use a better one".into());
    let mut keyring = Keyring::create(&tmp.join("acme.keyring"), &pass, DEFAULT_KDF)?;
    let levels: Vec<String> = ["public", "internal", "confidential", "secret"].map(String::from).to_vec();
    vault.create_tenant("acme", &levels, &mut keyring)?;
    say("Tenant acme chose four classification levels; one X25519 key pair each.");
    println!(
        "   private halves: the customer's keyring {} (Argon2id + AES-256-GCM)",
        keyring.path().display()
    );
    println!("   public halves:  registered in the vault, after the keyring was saved durably");

    let items = [
        ("handbook.txt", "public", "Welcome to Acme."),
        ("runbooks/db.md", "internal", "Restart the primary with care."),
        ("contracts/globex.pdf", "confidential", "Globex pays 1,000,000 a year."),
        ("keys/root.txt", "secret", "The launch code is 0000."),
    ];
    say("The vault stores four items. `put` needs no private key: each item gets a fresh data key,");
    println!("   wrapped to its level's public key; content is AES-256-GCM in 64 KiB chunks.");
    for (id, level, text) in items {
        let info = vault.put("acme", id, level, &mut Cursor::new(text), PutOptions::default())?;
        println!("   put {id:<22} level {level:<13} {} bytes", info.size);
    }

    say("What the vault (and its operator) can see: names, levels, sizes, times. Not content.");
    let mut envelope = Vec::new();
    vault.get_raw("acme", "keys/root.txt", &mut envelope)?;
    println!(
        "   keys/root.txt is stored as a {}-byte envelope; does it contain the text? {}",
        envelope.len(),
        contains(&envelope, b"launch code")
    );

    say("The customer reads with the keyring.");
    let mut out = Vec::new();
    vault.get("acme", "keys/root.txt", &keyring, &mut out)?;
    println!("   get keys/root.txt -> {:?}", String::from_utf8_lossy(&out));

    say("Tampering is caught: flip one byte of the stored envelope and read again.");
    let mut bad = envelope.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    vault.put_raw("acme", "keys/root.txt", None, &mut Cursor::new(&bad), true)?;
    match vault.get("acme", "keys/root.txt", &keyring, &mut Vec::new()) {
        Err(e) => println!("   refused (exit {}): {}", e.kind.exit_code(), e.message),
        Ok(_) => return Err(Error::other("demo: a tampered item was accepted")),
    }
    vault.put_raw("acme", "keys/root.txt", None, &mut Cursor::new(&envelope), true)?;

    say("An envelope moved to another item id is refused.");
    match vault.put_raw("acme", "handbook.txt", None, &mut Cursor::new(&envelope), true) {
        Err(e) => println!("   refused (exit {}): {}", e.kind.exit_code(), e.message),
        Ok(_) => return Err(Error::other("demo: a moved envelope was accepted")),
    }

    say("Done. The temporary vault is removed.");
    drop(vault);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn tempdir() -> Result<std::path::PathBuf, Error> {
    let suffix: [u8; 8] = lockbox::crypto::random_array()?;
    let name: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("lockbox-demo-{name}"));
    std::fs::create_dir(&dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}
