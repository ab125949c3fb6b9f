//! `lockbox demo --server`: the story through a real `lockbox serve` on loopback. The provider
//! runs the server; the writer, the engineer and the customer each run lockbox in a directory
//! of their own with nothing of the server's but its URL, its pin and a token.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use lockbox::vault::Error;

use super::output::outln;

const PASS: &str = "demo passphrase, use a better one";

fn say(text: &str) {
    outln!("\n== {text}");
}

/// The server, stopped when dropped.
struct Serving(Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs lockbox (this binary) in `home` with `env`; its standard output, or its error.
fn lockbox(home: &Path, env: &[(&str, &str)], args: &[&str], input: &[u8]) -> Result<String, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::other(format!("cannot find this program: {e}")))?;
    let mut child = Command::new(exe)
        .args(args)
        .current_dir(home)
        .env("LOCKBOX_PASSPHRASE", PASS)
        .env("LOCKBOX_TRUST", home.join("trust"))
        .env("LOCKBOX_VAULT", home.join("vault"))
        .env_remove("LOCKBOX_SERVER")
        .env_remove("LOCKBOX_SERVER_PIN")
        .env_remove("LOCKBOX_TOKEN")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::other(format!("cannot run lockbox: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(|e| Error::other(format!("cannot feed lockbox: {e}")))?;
    }
    let out = child.wait_with_output().map_err(|e| Error::other(format!("lockbox did not finish: {e}")))?;
    if !out.status.success() {
        return Err(Error::other(format!(
            "`lockbox {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs the story; the temporary directories go however it ends.
pub fn run() -> Result<(), Error> {
    let tmp = super::demo::tempdir()?;
    let dir = |name: &str| -> Result<std::path::PathBuf, Error> {
        let d = tmp.join(name);
        std::fs::create_dir(&d).map_err(|e| Error::other(format!("cannot create {}: {e}", d.display())))?;
        Ok(d)
    };
    let (provider, writer, engineer, customer) =
        (dir("provider")?, dir("writer")?, dir("engineer")?, dir("customer")?);

    say("The provider makes a vault and a token for the customer of tenant acme, not created yet.");
    lockbox(&provider, &[], &["init"], b"")?;
    let customer_token =
        lockbox(&provider, &[], &["token", "create", "-r", "customer", "-t", "acme", "--new-tenant"], b"")?
            .trim()
            .to_owned();

    say("The provider starts `lockbox serve` on loopback, with a self-signed certificate.");
    let exe = std::env::current_exe().map_err(|e| Error::other(format!("cannot find this program: {e}")))?;
    let mut child = Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("LOCKBOX_VAULT", provider.join("vault"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::other(format!("cannot start the server: {e}")))?;
    let stdout = child.stdout.take().ok_or_else(|| Error::other("the server has no output"))?;
    let server = Serving(child);
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let url = lines.next().and_then(|l| l.strip_prefix("listening on ").map(str::to_owned));
    let pin = lines.next().and_then(|l| l.strip_prefix("pin ").map(str::to_owned));
    let (Some(url), Some(pin)) = (url, pin) else {
        return Err(Error::other("the server did not say where it listens"));
    };
    outln!("   {url}, pin {pin}");
    outln!("   every client checks that pin in the TLS handshake, before it sends its token");

    let party = |home: &Path, token: &str, args: &[&str], input: &[u8]| -> Result<String, Error> {
        let env = [
            ("LOCKBOX_SERVER", url.as_str()),
            ("LOCKBOX_SERVER_PIN", pin.as_str()),
            ("LOCKBOX_TOKEN", token),
        ];
        lockbox(home, &env, args, input)
    };

    say("The customer creates tenant acme from their own machine: its keys are made there.");
    let keyring = customer.join("acme.keyring").to_string_lossy().into_owned();
    let created = party(
        &customer,
        &customer_token,
        &["--json", "tenant", "create", "acme", "--levels", "internal,secret", "--keyring", &keyring],
        b"",
    )?;
    let fingerprint = serde_json::from_str::<serde_json::Value>(&created)
        .ok()
        .and_then(|v| v["signing_key_fingerprint"].as_str().map(str::to_owned))
        .ok_or_else(|| Error::other("tenant create gave no fingerprint"))?;
    outln!("   the customer's keyring: {keyring} (never on the server's machine)");
    outln!("   the server got the public keys and the first manifest, signed on the customer's machine");
    outln!(
        "   the tenant key's fingerprint, given by the customer to every party: {}...",
        &fingerprint[..16]
    );

    let token = |args: &[&str]| -> Result<String, Error> {
        let mut all = vec!["token", "create", "-t", "acme"];
        all.extend_from_slice(args);
        Ok(lockbox(&provider, &[], &all, b"")?.trim().to_owned())
    };
    let (writer_token, eve_token) = (token(&["-r", "writer"])?, token(&["-r", "engineer", "-e", "eve"])?);
    outln!("   the provider makes tokens for a writer and engineer eve; the vault keeps only their hashes");

    say("A writer, on its own machine, pins acme's key and stores two items, sealed there.");
    party(&writer, &writer_token, &["tenant", "trust", "acme", &fingerprint], b"")?;
    party(
        &writer,
        &writer_token,
        &["put", "acme", "runbooks/db.md", "-l", "internal"],
        b"Restart the primary with care.",
    )?;
    party(
        &writer,
        &writer_token,
        &["put", "acme", "keys/root.txt", "-l", "secret"],
        b"The launch code is 0000.",
    )?;
    outln!("   the server received envelopes only: no plaintext, no key");

    say("Engineer eve enrolls from her machine (her identity file stays there) and asks for both levels.");
    let identity = engineer.join("eve.identity").to_string_lossy().into_owned();
    party(&engineer, &eve_token, &["engineer", "enroll", "eve", "--identity", &identity], b"")?;
    party(&engineer, &eve_token, &["tenant", "trust", "acme", &fingerprint], b"")?;
    let filed = party(
        &engineer,
        &eve_token,
        &[
            "request",
            "create",
            "--tenant",
            "acme",
            "-i",
            &identity,
            "--levels",
            "internal,secret",
            "--reason",
            "database will not start",
            "--case",
            "CS-1142",
        ],
        b"",
    )?;
    let mut filed = filed.lines();
    let (Some(id), Some(digest)) = (filed.next(), filed.next().and_then(|d| d.strip_prefix("digest ")))
    else {
        return Err(Error::other("request create printed no id and digest"));
    };
    outln!(
        "   request {id}; eve gives its digest {}... to the customer through the support case",
        &digest[..16]
    );

    say("The customer, on their machine, checks the digest and releases `internal` only.");
    let grant = party(
        &customer,
        &customer_token,
        &["request", "approve", id, "--expect", digest, "--levels", "internal", "-k", &keyring],
        b"",
    )?;
    outln!("   grant {}: the internal key, wrapped to eve's key on the customer's machine", grant.trim());

    say("Eve reads what was released, and nothing else.");
    let read =
        party(&engineer, &eve_token, &["get", "acme", "runbooks/db.md", "-i", &identity, "-o", "-"], b"")?;
    outln!("   runbooks/db.md: {read:?}");
    match party(&engineer, &eve_token, &["get", "acme", "keys/root.txt", "-i", &identity, "-o", "-"], b"") {
        Err(e) => {
            outln!("   keys/root.txt: refused: {}", e.message.rsplit("lockbox: ").next().unwrap_or_default())
        }
        Ok(_) => return Err(Error::other("the secret level opened without a grant")),
    }

    say("The customer checks the audit chain from their machine and signs a checkpoint.");
    let checked = party(&customer, &customer_token, &["audit", "checkpoint", "acme", "-k", &keyring], b"")?;
    outln!("   {}", checked.trim());
    party(&customer, &customer_token, &["grant", "revoke", grant.trim()], b"")?;
    outln!("   grant revoked: eve's next read is refused");
    drop(server);
    say("Done. The server is stopped and the temporary directories are removed.");
    Ok(())
}
