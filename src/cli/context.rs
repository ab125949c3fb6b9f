//! The context of one invocation: global options, how keys and the vault are opened, and how
//! results are printed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::sync::Arc;

use lockbox::keyring::{DEFAULT_KDF, Identity, Keyring, Passphrase};
use lockbox::trust::Pins;
use lockbox::vault::{Caller, Error, ErrorKind, LevelKeys, Vault};

use super::args::Cli;
use super::output::outln;
use super::{secrets, vault_dir};
use lockbox::lockbox::Workflow;

/// Shared state of one invocation.
pub struct Ctx {
    pub json: bool,
    pub passphrase_file: Option<PathBuf>,
    pub vault_dir: Option<PathBuf>,
    /// Who acts, for the audit log: --actor, LOCKBOX_ACTOR, $USER, else the user's name in
    /// /etc/passwd, else `uid N`.
    pub actor: String,
    /// How long to retry a vault another process holds (--wait, LOCKBOX_WAIT).
    pub wait: Option<Duration>,
    /// This machine's trust store (--trust, LOCKBOX_TRUST, or the per-user config file).
    pub trust: Option<PathBuf>,
    /// A lockbox server to work through (--server, LOCKBOX_SERVER), its pins and token file.
    pub server: Option<(String, Vec<String>, Option<PathBuf>)>,
}

impl Ctx {
    /// The global options of `cli`.
    pub fn new(cli: &Cli) -> Result<Ctx, Error> {
        let ctx = Ctx {
            json: cli.json,
            passphrase_file: cli.command.passphrase_file().cloned(),
            vault_dir: cli.vault.clone(),
            actor: cli.actor.clone().unwrap_or_else(default_actor),
            wait: cli.wait.map(Duration::from_secs),
            trust: cli.trust.clone(),
            server: cli.server.clone().map(|url| (url, cli.server_pins.clone(), cli.token_file.clone())),
        };
        check_actor(&ctx.actor)?;
        Ok(ctx)
    }

    /// Opens the vault, shared with every other lockbox process, retrying while one holds it
    /// alone (compacting it) until --wait runs out.
    pub fn open(&self) -> Result<Vault, Error> {
        if let Some(remote) = self.remote()? {
            // A copy of what the server shows of the token's tenant, checked here against
            // this machine's pins as a local vault is; its changes go to the server.
            let (vault, _) = super::remote::Mirror::open(remote, None)?;
            let pins = Pins::open(&self.trust_path()?)?;
            return Ok(vault.with_pins(Arc::new(pins)));
        }
        let dir = vault_dir(self.vault_dir.clone())?;
        let vault = self.retrying(|| Vault::open(&dir))?;
        let pins = Pins::open(&self.trust_path()?)?;
        Ok(vault.acting_as(Caller::new(&self.actor)).with_pins(Arc::new(pins)))
    }

    /// Runs `attempt` again while it finds the vault in use, until --wait runs out; then says
    /// how to wait longer.
    pub fn retrying<T>(&self, mut attempt: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
        let deadline = Instant::now() + self.wait.unwrap_or_default();
        let mut pause = Duration::from_millis(10);
        loop {
            match attempt() {
                Err(e) if e.kind == ErrorKind::InUse && Instant::now() < deadline => {
                    std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                Err(e) if e.kind == ErrorKind::InUse => {
                    let hint = match self.wait {
                        Some(_) => " (still, after waiting as long as --wait allows)",
                        None => "; pass --wait DUR (or set LOCKBOX_WAIT), e.g. --wait 30s, to wait for it",
                    };
                    return Err(Error::new(e.kind, format!("{}{hint}", e.message)));
                }
                other => return other,
            }
        }
    }

    /// The server to work through, if one was named: connected lazily, pinned.
    pub fn remote(&self) -> Result<Option<super::remote::Remote>, Error> {
        self.server
            .as_ref()
            .map(|(url, pins, token_file)| super::remote::Remote::new(url, pins, token_file.as_deref()))
            .transpose()
    }

    /// The vault as far as `tenant` goes: through the server when one is named (what it shows
    /// of the tenant, bound to its address for this machine's pins), else the local vault.
    pub fn open_view(&self, tenant: &str) -> Result<Vault, Error> {
        let Some(remote) = self.remote()? else { return self.open() };
        let view = remote.tenant_view(tenant)?;
        let pins = Pins::open(&self.trust_path()?)?;
        Ok(Vault::of_view(&view, remote.place())?
            .acting_as(Caller::new(&self.actor))
            .with_pins(Arc::new(pins)))
    }

    /// The trust store file.
    pub fn trust_path(&self) -> Result<PathBuf, Error> {
        self.trust
            .clone()
            .or_else(|| dirs::config_dir().map(|d| d.join("lockbox").join("trust")))
            .ok_or_else(|| Error::usage("cannot find a per-user config directory; pass --trust FILE"))
    }

    /// Opens the vault for a command that changes `ring`, holding the keyring (this process
    /// its only changer until the command ends) and reading it again: the passphrase was asked
    /// before, and another process may have saved the keyring (and registered its new keys)
    /// meanwhile.
    pub fn open_for(&self, ring: &mut Keyring) -> Result<Vault, Error> {
        let path = ring.path().to_owned();
        ring.hold(|| waiting_for(&path))?;
        self.open()
    }

    /// Opens the vault for a command that changes the monitor key `key`, holding it as
    /// [`Ctx::open_for`] holds a keyring.
    pub fn open_for_monitor(&self, key: &mut lockbox::keyring::MonitorKey) -> Result<Vault, Error> {
        let path = key.path().to_owned();
        key.hold(|| waiting_for(&path))?;
        self.open()
    }

    pub fn keyring(&self, path: &Path) -> Result<Keyring, Error> {
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, false)?;
        Ok(unlocked(Keyring::open(path, &pass))?)
    }

    pub fn monitor_key(&self, path: &Path) -> Result<lockbox::keyring::MonitorKey, Error> {
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, false)?;
        Ok(unlocked(lockbox::keyring::MonitorKey::open(path, &pass))?)
    }

    pub fn identity(&self, path: &Path) -> Result<Identity, Error> {
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, false)?;
        Ok(unlocked(Identity::open(path, &pass))?)
    }

    pub fn new_passphrase(&self, path: &Path) -> Result<Passphrase, Error> {
        secrets::passphrase(self.passphrase_file.as_deref(), path, true)
    }

    pub fn keyring_or_new(&self, path: &Path) -> Result<Keyring, Error> {
        let new = !path.exists();
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, new)?;
        Ok(unlocked(Keyring::open_or_create(path, &pass, DEFAULT_KDF))?)
    }

    pub fn emit(&self, value: serde_json::Value, human: impl FnOnce()) {
        if self.json {
            outln!("{value}");
        } else {
            human();
        }
    }
}

/// The key a reading command was given, opened (passphrase asked) before the vault is.
pub enum Key {
    /// The customer's keyring.
    Keyring(Keyring),
    /// An engineer's identity.
    Identity(Identity),
}

impl Key {
    /// Opens whichever of `--keyring` and `--identity` was given.
    pub fn load(ctx: &Ctx, keyring: Option<&Path>, identity: Option<&Path>) -> Result<Option<Key>, Error> {
        Ok(match (keyring, identity) {
            (Some(k), None) => Some(Key::Keyring(ctx.keyring(k)?)),
            (None, Some(i)) => Some(Key::Identity(ctx.identity(i)?)),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(Error::usage("give --keyring or --identity, not both")),
        })
    }

    /// The level keys it gives for `tenant`: the keyring itself, or the engineer's active grants.
    pub fn level_keys<'a>(
        &'a mut self,
        vault: &Vault,
        tenant: &str,
    ) -> Result<Box<dyn LevelKeys + 'a>, Error> {
        Ok(match self {
            Key::Keyring(ring) => Box::new(&*ring),
            Key::Identity(identity) => Box::new(Workflow::new(vault).engineer_keys(identity, tenant)?),
        })
    }
}

/// Said once when another process is changing a key file this one must change too.
fn waiting_for(path: &Path) {
    eprintln!("lockbox: waiting for another lockbox process that is changing {}", path.display());
}

/// Longest actor name, in bytes.
const MAX_ACTOR_LEN: usize = 64;

/// The actor is written into every audit entry: printable, one line, at most 64 bytes, so no
/// entry can be made to look like two.
fn check_actor(actor: &str) -> Result<(), Error> {
    let printable = !actor.chars().any(super::output::unsafe_char);
    if actor.is_empty() || actor.len() > MAX_ACTOR_LEN || !printable {
        return Err(Error::usage(format!(
            "the actor name \"{}\" must be 1 to {MAX_ACTOR_LEN} bytes of printable characters (--actor, LOCKBOX_ACTOR or $USER)",
            super::output::escaped(actor)
        )));
    }
    Ok(())
}

/// The actor when --actor is not given: LOCKBOX_ACTOR, else $USER, else the login name of this
/// process's user (from the password database), else `uid N`. An empty variable counts as unset.
fn default_actor() -> String {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    set("LOCKBOX_ACTOR").or_else(|| set("USER")).unwrap_or_else(login_name)
}

/// The name `/etc/passwd` gives this process's user, or `uid N`.
fn login_name() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else { return "unknown".into() };
    let named = std::fs::read_to_string("/etc/passwd").ok().and_then(|text| {
        text.lines().find_map(|line| {
            let mut f = line.split(':');
            let name = f.next()?;
            (f.nth(1)? == uid.to_string() && !name.is_empty()).then(|| name.to_owned())
        })
    });
    named.unwrap_or_else(|| format!("uid {uid}"))
}

/// A key file just opened (or not): its Argon2 work area is freed by now, and goes back to the
/// system before the command goes on (`release_freed_memory` says why).
fn unlocked<T, E>(opened: Result<T, E>) -> Result<T, E> {
    crate::release_freed_memory();
    opened
}
