//! One function per command.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lockbox::atomic::Failed;
use lockbox::keyring::{DEFAULT_KDF, Identity, Keyring};
use lockbox::vault::{Error, ErrorKind, LevelKeys, PutOptions, Vault};
use serde_json::json;

use super::args::{Cli, Command, GetArgs, LevelCmd, ListArgs, PutArgs, TenantCmd};
use super::output::{self, hex, item_json, outln, table, tenant_json, time};
use super::workflow;
use super::{demo, secrets, vault_dir};

/// Shared state of one invocation.
pub struct Ctx {
    pub json: bool,
    pub passphrase_file: Option<PathBuf>,
    pub vault_dir: Option<PathBuf>,
    pub actor: Option<String>,
    /// How long to retry a vault another process holds (--wait, LOCKBOX_WAIT).
    pub wait: Option<Duration>,
}

impl Ctx {
    /// Opens the vault, retrying while another process holds it until --wait runs out. Every
    /// passphrase a command needs is asked before this, so nobody holds the vault at a prompt.
    pub fn open(&self) -> Result<Vault, Error> {
        let dir = vault_dir(self.vault_dir.clone())?;
        let deadline = Instant::now() + self.wait.unwrap_or_default();
        let mut pause = Duration::from_millis(10);
        let mut vault = loop {
            match Vault::open(&dir) {
                Err(e) if e.kind == ErrorKind::InUse && Instant::now() < deadline => {
                    std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                Err(e) if e.kind == ErrorKind::InUse => {
                    let hint = match self.wait {
                        Some(_) => " (still, after waiting as long as --wait allows)",
                        None => "; pass --wait DUR (or set LOCKBOX_WAIT), e.g. --wait 30s, to wait for it",
                    };
                    return Err(Error { kind: e.kind, message: format!("{}{hint}", e.message) });
                }
                other => break other?,
            }
        };
        if let Some(actor) = &self.actor {
            vault.set_actor(actor);
        }
        Ok(vault)
    }

    pub fn keyring(&self, path: &Path) -> Result<Keyring, Error> {
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, false)?;
        Ok(Keyring::open(path, &pass)?)
    }

    pub fn identity(&self, path: &Path) -> Result<Identity, Error> {
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, false)?;
        Ok(Identity::open(path, &pass)?)
    }

    pub fn new_passphrase(&self, path: &Path) -> Result<lockbox::keyring::Passphrase, Error> {
        secrets::passphrase(self.passphrase_file.as_deref(), path, true)
    }

    fn keyring_or_new(&self, path: &Path) -> Result<Keyring, Error> {
        let new = !path.exists();
        let pass = secrets::passphrase(self.passphrase_file.as_deref(), path, new)?;
        Ok(Keyring::open_or_create(path, &pass, DEFAULT_KDF)?)
    }

    pub fn emit(&self, value: serde_json::Value, human: impl FnOnce()) {
        if self.json {
            outln!("{value}");
        } else {
            human();
        }
    }
}

pub fn run(cli: Cli) -> Result<(), Error> {
    let ctx = Ctx {
        json: cli.json,
        passphrase_file: cli.passphrase_file,
        vault_dir: cli.vault,
        actor: cli.actor,
        wait: cli.wait.map(Duration::from_secs),
    };
    match cli.command {
        Command::Init => init(&ctx),
        Command::Tenant(cmd) => tenant(&ctx, cmd),
        Command::Level(LevelCmd::Add { tenant, level, keyring }) => {
            let mut ring = ctx.keyring(&keyring)?;
            let vault = ctx.open()?;
            let record = lockbox::customer::add_level(&vault, &mut ring, &tenant, &level)?;
            ctx.emit(tenant_json(&record), || {
                outln!("added level {level} to tenant {tenant}; its key is in {}", keyring.display())
            });
            Ok(())
        }
        Command::Put(args) => put(&ctx, args),
        Command::Get(args) => get(&ctx, args),
        Command::List(args) => list(&ctx, args),
        Command::Rm(item) => {
            ctx.open()?.remove(&item.tenant, &item.item)?;
            ctx.emit(json!({"removed": {"tenant": item.tenant, "item": item.item}}), || {
                outln!("removed {} from tenant {}", item.item, item.tenant)
            });
            Ok(())
        }
        Command::Level(LevelCmd::Rotate { tenant, level, keyring, rewrap }) => {
            let mut ring = ctx.keyring(&keyring)?;
            let vault = ctx.open()?;
            let r = lockbox::customer::rotate_level(&vault, &mut ring, &tenant, &level, rewrap)?;
            ctx.emit(
                json!({"tenant": tenant, "level": level, "epoch": r.epoch, "rewrapped": r.rewrapped}),
                || {
                    outln!(
                        "level {level} of tenant {tenant} is now at epoch {}; {} item(s) re-wrapped",
                        r.epoch,
                        r.rewrapped
                    )
                },
            );
            Ok(())
        }
        Command::Engineer(cmd) => workflow::engineer(&ctx, cmd),
        Command::Request(cmd) => workflow::request(&ctx, cmd),
        Command::Grant(cmd) => workflow::grant(&ctx, cmd),
        Command::Audit(cmd) => workflow::audit(&ctx, cmd),
        Command::Import { tenant, level, dir, replace } => {
            let vault = ctx.open()?;
            let started = std::time::Instant::now();
            let mut bar = Progress::new("importing");
            let r =
                vault.import_dir(&tenant, &level, &dir, replace, &mut |done, total| bar.show(done, total))?;
            bar.clear();
            let secs = started.elapsed().as_secs_f64();
            ctx.emit(json!({"items": r.items, "bytes": r.bytes, "seconds": secs}), || {
                outln!("imported {} items ({} bytes) into tenant {tenant} at level {level} in {secs:.2}s ({:.0} items/s)", r.items, r.bytes, r.items as f64 / secs.max(1e-9))
            });
            Ok(())
        }
        Command::Export { tenant, dir, keyring, identity, replace } => {
            let key = Key::load(&ctx, keyring.as_deref(), identity.as_deref())?
                .ok_or_else(|| Error::usage("export needs --keyring FILE or --identity FILE"))?;
            let vault = ctx.open()?;
            let started = std::time::Instant::now();
            let mut bar = Progress::new("exporting");
            let keys = key.level_keys(&vault, &tenant)?;
            let r = vault.export_dir(&tenant, keys.as_ref(), &dir, replace, &mut |d, t| bar.show(d, t))?;
            bar.clear();
            let secs = started.elapsed().as_secs_f64();
            for (id, e) in &r.skipped {
                eprintln!("lockbox: skipped {id:?}: {}", e.message);
            }
            let skipped: Vec<_> = r
                .skipped
                .iter()
                .map(|(id, e)| json!({"item": id, "kind": e.kind.name(), "message": e.message}))
                .collect();
            ctx.emit(
                json!({"items": r.items, "bytes": r.bytes, "seconds": secs, "skipped": skipped}),
                || {
                    outln!(
                        "exported {} items ({} bytes) to {} in {secs:.2}s ({:.0} items/s); {} skipped",
                        r.items,
                        r.bytes,
                        dir.display(),
                        r.items as f64 / secs.max(1e-9),
                        r.skipped.len()
                    )
                },
            );
            match r.skipped.iter().map(|(_, e)| e.kind).min_by_key(|k| k.exit_code()) {
                None => Ok(()),
                Some(kind) => {
                    Err(Error { kind, message: format!("{} item(s) were not exported", r.skipped.len()) })
                }
            }
        }
        Command::Verify { tenant, keyring } => {
            let ring = keyring.as_deref().map(|k| ctx.keyring(k)).transpose()?;
            let vault = ctx.open()?;
            let r = vault.verify(tenant.as_deref(), ring.as_ref())?;
            let summary = json!({"items": r.items, "decrypted": r.decrypted, "skipped": r.skipped, "problems": r.problems});
            ctx.emit(summary, || {
                for p in &r.problems {
                    outln!("DAMAGED: {p}");
                }
                outln!(
                    "checked {} item(s): {} decrypted, {} without a key in the keyring; {} problem(s)",
                    r.items,
                    r.decrypted,
                    r.skipped,
                    r.problems.len()
                );
            });
            match r.problems.len() {
                0 => Ok(()),
                n => Err(Error::integrity(format!("the vault has {n} damaged record(s) or item(s)"))),
            }
        }
        Command::Backup { file } => {
            let vault = ctx.open()?;
            let b = vault.backup(&file)?;
            ctx.emit(json!({"file": file, "records": b.records, "bytes": b.bytes, "audit_head": hex(&b.audit_head)}), || {
                outln!("wrote {} records ({} bytes) to {}; audit head {}", b.records, b.bytes, file.display(), hex(&b.audit_head))
            });
            Ok(())
        }
        Command::Restore { file } => {
            let dir = vault_dir(ctx.vault_dir.clone())?;
            let b = Vault::restore(&file, &dir)?;
            ctx.emit(json!({"vault": dir, "records": b.records, "audit_head": hex(&b.audit_head)}), || {
                outln!(
                    "restored {} records into {}; audit head {}",
                    b.records,
                    dir.display(),
                    hex(&b.audit_head)
                )
            });
            Ok(())
        }
        Command::Demo => demo::run(),
    }
}

fn init(ctx: &Ctx) -> Result<(), Error> {
    let dir = vault_dir(ctx.vault_dir.clone())?;
    Vault::init(&dir)?;
    ctx.emit(json!({"vault": dir}), || outln!("created an empty vault in {}", dir.display()));
    Ok(())
}

fn tenant(ctx: &Ctx, cmd: TenantCmd) -> Result<(), Error> {
    // The only subcommand with a key asks for its passphrase before the vault is opened.
    let mut ring = match &cmd {
        TenantCmd::Create { keyring, .. } => Some(ctx.keyring_or_new(keyring)?),
        _ => None,
    };
    let vault = ctx.open()?;
    match cmd {
        TenantCmd::Create { tenant, levels, keyring } => {
            let ring = ring.as_mut().ok_or_else(|| Error::other("no keyring"))?;
            let record = lockbox::customer::create_tenant(&vault, ring, &tenant, &levels)?;
            ctx.emit(tenant_json(&record), || {
                outln!("created tenant {tenant} with levels {}", levels.join(", "));
                outln!(
                    "its private level keys are in {} (keep it, and its passphrase, safe)",
                    keyring.display()
                );
            });
        }
        TenantCmd::List => {
            let tenants = vault.tenants()?;
            let rows: Vec<Vec<String>> = tenants
                .iter()
                .map(|t| {
                    let levels: Vec<&str> = t.levels.iter().map(|l| l.name.as_str()).collect();
                    vec![t.name.clone(), levels.join(","), time(t.created)]
                })
                .collect();
            ctx.emit(json!(tenants.iter().map(tenant_json).collect::<Vec<_>>()), || {
                table(&["TENANT", "LEVELS", "CREATED"], &rows)
            });
        }
        TenantCmd::Policy { tenant, max_access, request_ttl } => {
            let t = if max_access.is_some() || request_ttl.is_some() {
                vault.set_policy(&tenant, max_access, request_ttl)?
            } else {
                vault.tenant(&tenant)?
            };
            ctx.emit(json!({"tenant": t.name, "max_access_secs": t.max_access_secs, "request_ttl_secs": t.request_ttl_secs}), || {
                outln!("tenant {}: grants last at most {}s; requests wait at most {}s", t.name, t.max_access_secs, t.request_ttl_secs)
            });
        }
        TenantCmd::Show { tenant } => {
            let t = vault.tenant(&tenant)?;
            ctx.emit(tenant_json(&t), || {
                outln!("tenant      {}", t.name);
                outln!("created     {}", time(t.created));
                outln!("max access  {}s", t.max_access_secs);
                outln!("request ttl {}s", t.request_ttl_secs);
                let rows: Vec<Vec<String>> = t
                    .levels
                    .iter()
                    .filter_map(|l| l.epochs.last().map(|e| (l, e)))
                    .map(|(l, e)| {
                        vec![
                            l.name.clone(),
                            e.epoch.to_string(),
                            hex(&lockbox::crypto::fingerprint(&e.public)),
                            time(e.created),
                        ]
                    })
                    .collect();
                table(&["LEVEL", "EPOCH", "KEY FINGERPRINT", "SINCE"], &rows);
            });
        }
    }
    Ok(())
}

fn put(ctx: &Ctx, args: PutArgs) -> Result<(), Error> {
    let vault = ctx.open()?;
    let mut input: Box<dyn Read> = match &args.file {
        Some(path) if path.is_dir() => {
            return Err(Error::usage(format!("{} is a directory, not a file", path.display())));
        }
        Some(path) => Box::new(File::open(path).map_err(|e| open_error(path, e))?),
        None => Box::new(io::stdin().lock()),
    };
    let (tenant, item) = (&args.item.tenant, &args.item.item);
    let info = if args.raw {
        vault.put_raw(tenant, item, args.level.as_deref(), &mut input, args.replace)?
    } else {
        let level =
            args.level.as_deref().ok_or_else(|| Error::usage("put needs --level LEVEL (or --raw)"))?;
        let opts = PutOptions { replace: args.replace, chunk_size: args.chunk_size };
        vault.put(tenant, item, level, &mut input, opts)?
    };
    ctx.emit(item_json(&info), || {
        let level = info.level.as_deref().unwrap_or("?");
        outln!("stored {item} in tenant {tenant} (level {level}, epoch {}, {} bytes)", info.epoch, info.size)
    });
    Ok(())
}

fn get(ctx: &Ctx, args: GetArgs) -> Result<(), Error> {
    let (tenant, item) = (&args.item.tenant, &args.item.item);
    let out = args.out.as_deref();
    let key = Key::load(ctx, args.keyring.as_deref(), args.identity.as_deref())?;
    match (key, args.raw) {
        (Some(key), false) => {
            let vault = ctx.open()?;
            let keys = key.level_keys(&vault, tenant)?;
            write_output(out, |w| vault.get(tenant, item, keys.as_ref(), w))
        }
        (None, true) => {
            let vault = ctx.open()?;
            write_output(out, |w| vault.get_raw(tenant, item, w))
        }
        _ => Err(Error::usage("get needs --keyring FILE, --identity FILE, or --raw")),
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
    pub fn level_keys<'a>(&'a self, vault: &Vault, tenant: &str) -> Result<Box<dyn LevelKeys + 'a>, Error> {
        Ok(match self {
            Key::Keyring(ring) => Box::new(ring),
            Key::Identity(identity) => Box::new(vault.engineer_keys(identity, tenant)?),
        })
    }
}

/// Runs `f` with standard output, or with `path` through [`lockbox::atomic::write_output`]: a
/// regular file is replaced only if `f` succeeds (no partial file on failure), a device or FIFO
/// is written in place, a symbolic link is followed, a directory is refused.
pub fn write_output<T>(
    path: Option<&Path>,
    f: impl FnOnce(&mut dyn Write) -> Result<T, Error>,
) -> Result<(), Error> {
    let Some(path) = path else {
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
        f(&mut out)?;
        return out.flush().map_err(Error::output);
    };
    match lockbox::atomic::write_output(path, |w| f(w).map(drop)) {
        Ok(()) => Ok(()),
        Err(Failed::Fill(e)) => Err(e),
        Err(Failed::Io(e)) => Err(output_error(path, e)),
    }
}

/// An error writing a user-named output file, for the person who named it.
pub fn output_error(path: &Path, e: io::Error) -> Error {
    match e.kind() {
        // The only file a write can miss is the directory the path names.
        io::ErrorKind::NotFound => open_error(path, e),
        // What is at the path cannot be written (a directory, a block device): says so itself.
        io::ErrorKind::InvalidInput => Error::usage(e.to_string()),
        _ => Error::output(e),
    }
}

fn list(ctx: &Ctx, args: ListArgs) -> Result<(), Error> {
    let items = ctx.open()?.list(&args.tenant, args.level.as_deref())?;
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let level = i.level.clone().unwrap_or_else(|| "(damaged)".into());
            vec![
                i.item.escape_debug().to_string(),
                level,
                i.key_epoch.to_string(),
                i.size.to_string(),
                time(i.created),
            ]
        })
        .collect();
    ctx.emit(json!(items.iter().map(output::item_json).collect::<Vec<_>>()), || {
        table(&["ITEM", "LEVEL", "EPOCH", "SIZE", "CREATED"], &rows)
    });
    Ok(())
}

/// A one-line progress bar on standard error, drawn only on a terminal.
struct Progress {
    what: &'static str,
    tty: bool,
}

impl Progress {
    fn new(what: &'static str) -> Progress {
        Progress { what, tty: std::io::IsTerminal::is_terminal(&io::stderr()) }
    }

    fn show(&mut self, done: u64, total: u64) {
        if self.tty && total > 0 {
            let width = 30;
            let filled = (done * width / total) as usize;
            eprint!(
                "\r{} [{}{}] {done}/{total}",
                self.what,
                "#".repeat(filled),
                " ".repeat(width as usize - filled)
            );
        }
    }

    fn clear(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

pub fn open_error(path: &Path, e: io::Error) -> Error {
    let msg = format!("cannot open {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::NotFound => Error::not_found(msg),
        _ => Error::other(msg),
    }
}
