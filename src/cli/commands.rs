//! The dispatch, and the item and whole-vault commands.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use lockbox::files::Failed;
use lockbox::vault::{Error, ErrorKind, PutOptions, Vault};
use serde_json::json;

use super::args::{Cli, Command, GetArgs, ItemRef, ListArgs, PutArgs};
use super::context::{Ctx, Key};
use super::output::{self, hex, item_json, open_error, outln, table, time};
use super::progress::{Progress, Unit};
use super::{bulk, demo, monitor, tenants, tokens, vault_dir, workflow};

/// Runs one command: this only picks the function.
pub fn run(cli: Cli) -> Result<(), Error> {
    super::no_password_in_args()?;
    let ctx = Ctx::new(&cli)?;
    if cli.server.as_deref() == Some("") && !matches!(cli.command, Command::Demo) {
        return Err(Error::usage("--server needs the server's URL (only `demo --server` takes none)"));
    }
    if ctx.server.is_some()
        && let Some(why) = not_remote(&cli.command)
    {
        return Err(Error::usage(format!(
            "{why}: run it without --server, on the server's machine, against its vault"
        )));
    }
    match cli.command {
        Command::Init => init(&ctx),
        Command::Tenant(cmd) => tenants::tenant(&ctx, cmd),
        Command::Level(cmd) => tenants::level(&ctx, cmd),
        Command::Put(args) => put(&ctx, args),
        Command::Get(args) => get(&ctx, args),
        Command::List(args) => list(&ctx, args),
        Command::Rm(item) => rm(&ctx, item),
        Command::Engineer(cmd) => workflow::engineer(&ctx, cmd),
        Command::Request(cmd) => workflow::request(&ctx, cmd),
        Command::Grant(cmd) => workflow::grant(&ctx, cmd),
        Command::Audit(cmd) => workflow::audit(&ctx, cmd),
        Command::Monitor(cmd) => monitor::monitor(&ctx, cmd),
        Command::Token(cmd) => tokens::token(&ctx, cmd),
        Command::Webhook(cmd) => super::webhooks::webhook(&ctx, cmd),
        Command::Import { tenant, level, dir, replace } => bulk::import(&ctx, tenant, level, dir, replace),
        Command::Compact => compact(&ctx),
        Command::Passwd { file, new_passphrase_file, .. } => {
            passwd(&ctx, &file, new_passphrase_file.as_deref())
        }
        Command::Export { tenant, dir, keyring, identity, replace, level, prefix, .. } => {
            let filter = lockbox::vault::ItemFilter { level, prefix };
            bulk::export(&ctx, tenant, dir, keyring, identity, replace, &filter)
        }
        Command::Verify { tenant, keyring, .. } => verify(&ctx, tenant, keyring),
        Command::Backup { file, replace } => backup(&ctx, file, replace),
        Command::Restore { file } => restore(&ctx, file),
        Command::Serve { print_openapi: true, .. } => {
            outln!("{}", crate::server::openapi::document());
            Ok(())
        }
        Command::Serve {
            listen,
            tls_cert,
            tls_key,
            plain_http,
            rate_limit,
            webhook_allow,
            webhook_backoff,
            print_openapi: false,
        } => {
            let dir = vault_dir(ctx.vault_dir.clone())?;
            let vault = ctx.open()?;
            let tls = tls_cert.zip(tls_key);
            if lockbox::vault::is_database(&dir) && tls.is_none() && !plain_http {
                // Several servers on one database serve one name: one certificate, given.
                return Err(Error::usage(
                    "a server on a PostgreSQL vault has no vault directory to keep a certificate of its own in: pass --tls-cert FILE and --tls-key FILE (the same for every server of the vault)",
                ));
            }
            crate::server::serve(
                vault,
                &dir,
                crate::server::Listen {
                    addr: listen,
                    tls,
                    plain_http,
                    rate_limit,
                    webhooks: crate::server::webhooks::Settings {
                        allow: webhook_allow,
                        backoff_secs: webhook_backoff,
                    },
                },
            )
        }
        Command::Demo if cli.server.as_deref() == Some("") => super::demo_server::run(),
        Command::Demo => demo::run(),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "lockbox",
                &mut script,
            );
            outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(())
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut page)
                .map_err(|e| Error::other(format!("cannot render the manual page: {e}")))?;
            outln!("{}", String::from_utf8_lossy(&page).trim_end());
            Ok(())
        }
    }
}

/// Why `command` does not work through a server, if it does not: it needs the vault's files
/// (chunks, the whole log, the database), or a change the API does not carry.
fn not_remote(command: &Command) -> Option<&'static str> {
    use super::args::{AuditCmd, TenantCmd};
    Some(match command {
        Command::List(_) | Command::Put(_) | Command::Get(_) | Command::Passwd { .. } => return None,
        Command::Engineer(super::args::EngineerCmd::Remove { .. }) => {
            "engineer remove closes the engineer's grants and tokens across the server's vault"
        }
        Command::Engineer(_) | Command::Request(_) | Command::Grant(_) | Command::Monitor(_) => return None,
        Command::Audit(AuditCmd::Verify { keyring: None, .. }) => {
            "audit verify through --server needs --keyring (the whole log holds other tenants' entries)"
        }
        Command::Audit(_) => return None,
        Command::Tenant(
            TenantCmd::Create { .. }
            | TenantCmd::Show { .. }
            | TenantCmd::Trust { .. }
            | TenantCmd::Policy { .. }
            | TenantCmd::Refresh { .. }
            | TenantCmd::Monitor { .. },
        ) => return None,
        Command::Tenant(_) => {
            "through --server, tenant takes create, show, trust, policy, refresh and monitor"
        }
        Command::Level(_) | Command::Rm(_) | Command::Import { .. } | Command::Export { .. } => return None,
        Command::Verify { keyring: None, .. } => {
            "verify through --server needs --keyring (the server's files are checked on its machine)"
        }
        Command::Verify { .. } => return None,
        Command::Backup { .. } | Command::Restore { .. } | Command::Compact => {
            "backup, restore and compact act on the whole vault's files (a tenant's own copy through a server is export)"
        }
        Command::Init | Command::Serve { .. } | Command::Token(_) | Command::Webhook(_) => {
            "init, serve, token and webhook act on the server's own vault"
        }
        Command::Demo | Command::Completions { .. } | Command::Man => return None,
    })
}

fn rm(ctx: &Ctx, item: ItemRef) -> Result<(), Error> {
    match ctx.remote()? {
        Some(remote) => remote.remove(&item.tenant, &item.item)?,
        None => ctx.open()?.remove(&item.tenant, &item.item)?,
    };
    ctx.emit(json!({"removed": {"tenant": item.tenant, "item": item.item}}), || {
        outln!("removed {} from tenant {}", item.item, item.tenant)
    });
    Ok(())
}

fn verify(ctx: &Ctx, tenant: Option<String>, keyring: Option<PathBuf>) -> Result<(), Error> {
    let mut ring = keyring.as_deref().map(|k| ctx.keyring(k)).transpose()?;
    // The keyring check may save the keyring (a manifest it finds committed): held, as every
    // command that changes it.
    let vault = match ring.as_mut() {
        Some(ring) => ctx.open_for(ring)?,
        None => ctx.open()?,
    };
    // The keyring against the vault first: every manifest and registered key must be its own.
    let trust_problems = match ring.as_mut() {
        Some(ring) => lockbox::customer::check_keyring(&vault, ring)?,
        None => Vec::new(),
    };
    let mut bar = Progress::new("verifying", Unit::Items);
    let r = match (ctx.remote()?, ring.as_ref()) {
        // Through a server: the token's tenant's items, each envelope opened here.
        (Some(remote), Some(ring)) => {
            let tenant = tenant.clone().or_else(|| vault.mirror_tenant()).unwrap_or_default();
            super::remote_bulk::verify(&remote, &tenant, ring, &mut |d, t| bar.show(d, t))
        }
        _ => vault.verify_with_progress(tenant.as_deref(), ring.as_ref(), &mut |d, t| bar.show(d, t)),
    };
    bar.clear();
    let mut r = r?;
    r.problems.extend(trust_problems);
    let summary = json!({"items": r.items, "decrypted": r.decrypted, "skipped": r.skipped, "staging": r.staging, "problems": r.problems});
    ctx.emit(summary, || {
        for p in &r.problems {
            outln!("DAMAGED: {p}");
        }
        if r.staging > 0 {
            outln!("{} put(s) were storing chunks: not checked, not counted as orphans", r.staging);
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

fn backup(ctx: &Ctx, file: PathBuf, replace: bool) -> Result<(), Error> {
    if file == Path::new("-") {
        // The backup is the output: its summary goes to standard error.
        if io::IsTerminal::is_terminal(&io::stdout()) {
            return Err(Error::usage(
                "a backup is binary and standard output is a terminal: redirect it, or name a FILE",
            ));
        }
        let vault = ctx.open()?;
        let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
        let b = vault.backup_to(&mut out, "standard output")?;
        eprintln!(
            "lockbox: wrote {} records ({}); audit head {}",
            b.records,
            lockbox::format::size(b.bytes),
            hex(&b.audit_head)
        );
        return Ok(());
    }
    let vault = ctx.open()?;
    let mut bar = Progress::new("backing up", Unit::Bytes);
    let b = vault.backup_with_progress(&file, replace, &mut |d, t| bar.show(d, t));
    bar.clear();
    let b = b?;
    ctx.emit(
        json!({"file": file, "records": b.records, "bytes": b.bytes, "audit_head": hex(&b.audit_head)}),
        || {
            outln!(
                "wrote {} records ({}) to {}; audit head {}",
                b.records,
                lockbox::format::size(b.bytes),
                file.display(),
                hex(&b.audit_head)
            )
        },
    );
    Ok(())
}

fn restore(ctx: &Ctx, file: PathBuf) -> Result<(), Error> {
    let dir = vault_dir(ctx.vault_dir.clone())?;
    let mut bar = Progress::new("restoring", Unit::Bytes);
    let b = if file == Path::new("-") {
        Vault::restore_stream(io::stdin().lock(), 0, "standard input", &dir, &mut |d, t| bar.show(d, t))
    } else {
        Vault::restore_with_progress(&file, &dir, &mut |d, t| bar.show(d, t))
    };
    bar.clear();
    let b = b?;
    let shown = super::shown_vault(&dir);
    ctx.emit(json!({"vault": shown, "records": b.records, "audit_head": hex(&b.audit_head)}), || {
        outln!("restored {} records into {shown}; audit head {}", b.records, hex(&b.audit_head))
    });
    Ok(())
}

fn compact(ctx: &Ctx) -> Result<(), Error> {
    let dir = vault_dir(ctx.vault_dir.clone())?;
    let (before, after) = ctx.retrying(|| Vault::compact(&dir))?;
    ctx.emit(json!({"vault": dir, "bytes_before": before, "bytes_after": after}), || {
        outln!(
            "compacted {}: {} -> {} ({} given back)",
            dir.display(),
            lockbox::format::size(before),
            lockbox::format::size(after),
            lockbox::format::size(before.saturating_sub(after))
        )
    });
    Ok(())
}

fn passwd(ctx: &Ctx, file: &Path, new_file: Option<&Path>) -> Result<(), Error> {
    let old = super::secrets::passphrase(ctx.passphrase_file.as_deref(), file, false)?;
    let new = super::secrets::new_passphrase(new_file, file)?;
    // The library holds the file's lock for the check and the save: a command that saves the
    // file meanwhile comes before or after, never between.
    let kind = lockbox::keyring::change_passphrase(file, &old, &new)?;
    crate::release_freed_memory();
    ctx.emit(json!({"file": file, "kind": kind}), || {
        outln!("{} is {kind} sealed under the new passphrase; the old one no longer opens it", file.display())
    });
    Ok(())
}

fn init(ctx: &Ctx) -> Result<(), Error> {
    let dir = vault_dir(ctx.vault_dir.clone())?;
    Vault::init(&dir)?;
    let shown = super::shown_vault(&dir);
    ctx.emit(json!({"vault": shown}), || outln!("created an empty vault in {shown}"));
    Ok(())
}

fn put(ctx: &Ctx, args: PutArgs) -> Result<(), Error> {
    if let Some(remote) = ctx.remote()? {
        return put_remote(ctx, &remote, args);
    }
    let vault = ctx.open()?;
    let from_stdin = args.file.as_deref().is_none_or(|f| f == Path::new("-"));
    let mut input: Box<dyn Read> = match args.file.as_ref().filter(|_| !from_stdin) {
        Some(path) if path.is_dir() => {
            return Err(Error::usage(format!("{} is a directory, not a file", path.display())));
        }
        Some(path) => Box::new(File::open(path).map_err(|e| open_error(path, e))?),
        _ => {
            if io::IsTerminal::is_terminal(&io::stdin()) {
                eprintln!(
                    "lockbox: reading the item from the terminal; end it with Ctrl-D (or pass --file PATH)"
                );
            }
            Box::new(io::stdin().lock())
        }
    };
    let (tenant, item) = (&args.item.tenant, &args.item.item);
    // What a replace is about to replace, to say so if the level changes.
    let previous = if args.replace { vault.item(tenant, item).ok().and_then(|i| i.level) } else { None };
    let info = if args.raw {
        vault.put_raw(tenant, item, args.level.as_deref(), &mut input, args.replace)?
    } else {
        let level =
            args.level.as_deref().ok_or_else(|| Error::usage("put needs --level LEVEL (or --raw)"))?;
        let opts = PutOptions { replace: args.replace, chunk_size: args.chunk_size };
        vault.put(tenant, item, level, &mut input, opts)?
    };
    let moved = previous.filter(|p| Some(p) != info.level.as_ref());
    let mut json = item_json(&info);
    json["previous_level"] = json!(moved);
    ctx.emit(json, || {
        let level = info.level.as_deref().unwrap_or("?");
        outln!(
            "stored {item} in tenant {tenant} (level {level}, epoch {}, {})",
            info.epoch,
            lockbox::format::size(info.size)
        );
        if let Some(was) = &moved {
            outln!("note: {item} was at level {was}; the replacement is at level {level}");
        }
    });
    Ok(())
}

/// `put` through a server. The item is sealed here, to the level's key in the tenant's signed
/// manifest as this machine's pins check it, and streams to the server as an envelope while it
/// is read (`put --raw`: the envelope streams from the file or standard input as it is).
fn put_remote(ctx: &Ctx, remote: &super::remote::Remote, args: PutArgs) -> Result<(), Error> {
    let (tenant, item) = (&args.item.tenant, &args.item.item);
    let input: Box<dyn Read + Send> = match args.file.as_ref().filter(|f| f.as_path() != Path::new("-")) {
        Some(path) if path.is_dir() => {
            return Err(Error::usage(format!("{} is a directory, not a file", path.display())));
        }
        Some(path) => Box::new(File::open(path).map_err(|e| open_error(path, e))?),
        None => Box::new(io::stdin()),
    };
    let info = if args.raw {
        if args.level.is_some() {
            return Err(Error::usage(
                "through --server, put --raw takes no --level (the server checks the envelope's)",
            ));
        }
        remote.put_raw(tenant, item, input, args.replace.into())?
    } else {
        let level =
            args.level.as_deref().ok_or_else(|| Error::usage("put needs --level LEVEL (or --raw)"))?;
        let view = ctx.open_view(tenant)?;
        let replace = args.replace.into();
        super::remote_items::upload_sealed(
            remote,
            &view,
            tenant,
            item,
            level,
            Some(args.chunk_size),
            input,
            replace,
        )?
    };
    ctx.emit(item_json(&info), || {
        outln!(
            "stored {} in tenant {} through the server (level {}, epoch {}, {})",
            info.item,
            info.tenant,
            info.level.as_deref().unwrap_or("?"),
            info.key_epoch,
            lockbox::format::size(info.size)
        )
    });
    Ok(())
}

/// A get that found binary on its way to a terminal.
fn binary_on_terminal(item: &str) -> Error {
    Error::usage(format!(
        "item {item:?} is binary and standard output is a terminal: pass --out FILE, or --out - to write it here anyway"
    ))
}

fn get(ctx: &Ctx, args: GetArgs) -> Result<(), Error> {
    let (tenant, item) = (&args.item.tenant, &args.item.item);
    // `--out -` is standard output, asked for by name: binary is then written even to a terminal.
    let named_stdout = args.out.as_deref() == Some(Path::new("-"));
    let out = args.out.as_deref().filter(|_| !named_stdout);
    let guard = out.is_none() && !named_stdout && io::IsTerminal::is_terminal(&io::stdout());
    if let Some(remote) = ctx.remote()? {
        if args.raw {
            // An envelope is binary: on a terminal only when asked for by name.
            if guard {
                return Err(Error::usage(
                    "an envelope is binary and standard output is a terminal: pass --out FILE, or --out - to write it here anyway",
                ));
            }
            return write_output(out, args.replace, |w| remote.get_raw(tenant, item, w));
        }
        // Decrypted here, with the customer's keyring or the keys the engineer's grants
        // release (checked on this machine's copy of the tenant): the server sends only the
        // envelope.
        let Some(mut key) = Key::load(ctx, args.keyring.as_deref(), args.identity.as_deref())? else {
            return Err(Error::usage("get through --server needs --keyring FILE, --identity FILE, or --raw"));
        };
        let copy = match &key {
            Key::Identity(_) => Some(ctx.open()?),
            Key::Keyring(_) => None,
        };
        let keys = match (&mut key, &copy) {
            (Key::Identity(_), Some(copy)) => key.level_keys(copy, tenant)?,
            (Key::Keyring(ring), _) => Box::new(&*ring),
            _ => return Err(Error::other("no keys")),
        };
        let mut envelope = remote.envelope(tenant, item)?;
        let refused = std::cell::Cell::new(false);
        return write_output(out, args.replace, |w| {
            let mut text_only = TextOnly { inner: w, checked: !guard, refused: &refused };
            lockbox::vault::open_envelope_of(tenant, item, &mut envelope, keys.as_ref(), &mut text_only)
                .map(drop)
                .map_err(|e| match refused.get() {
                    true => binary_on_terminal(item),
                    false => e,
                })
        });
    }
    let key = Key::load(ctx, args.keyring.as_deref(), args.identity.as_deref())?;
    let vault = match (&key, args.raw) {
        (Some(_), false) | (None, true) => ctx.open()?,
        _ => return Err(Error::usage("get needs --keyring FILE, --identity FILE, or --raw")),
    };
    let refused = std::cell::Cell::new(false);
    write_output(out, args.replace, |w| {
        let mut text_only = TextOnly { inner: w, checked: !guard, refused: &refused };
        let w: &mut dyn Write = &mut text_only;
        match key {
            Some(mut key) => {
                let keys = key.level_keys(&vault, tenant)?;
                vault.get(tenant, item, keys.as_ref(), w)
            }
            None => vault.get_raw(tenant, item, w),
        }
        .map_err(|e| match refused.get() {
            true => binary_on_terminal(item),
            false => e,
        })
    })
}

/// Standard output on a terminal: the first bytes written must look like text (valid UTF-8, no
/// NUL or other control characters than tab, newline, carriage return and escape), or nothing is
/// written. Binary garbles a terminal, and age refuses it too.
struct TextOnly<'w> {
    inner: &'w mut dyn Write,
    checked: bool,
    refused: &'w std::cell::Cell<bool>,
}

impl Write for TextOnly<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.checked && !buf.is_empty() {
            let head = &buf[..buf.len().min(8192)];
            // A character cut at the end of the sample is not a sign of binary.
            let utf8 = std::str::from_utf8(head).map_or_else(|e| e.error_len().is_none(), |_| true);
            let control = head.iter().any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x1b));
            if !utf8 || control {
                self.refused.set(true);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "binary output refused on a terminal",
                ));
            }
            self.checked = true;
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Runs `f` with standard output, or with `path` through [`lockbox::files::write_output`]: a
/// regular file is replaced only if `f` succeeds (no partial file on failure), a device or FIFO
/// is written in place, a symbolic link is followed, a directory is refused.
pub fn write_output<T>(
    path: Option<&Path>,
    replace: bool,
    f: impl FnOnce(&mut dyn Write) -> Result<T, Error>,
) -> Result<(), Error> {
    let Some(path) = path else {
        let stdout = io::stdout();
        let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
        f(&mut out)?;
        return out.flush().map_err(Error::output);
    };
    let cut_short = |path: &Path| {
        Error::other(format!(
            "the output to {} was cut short: its reader closed the pipe before the end",
            path.display()
        ))
    };
    match lockbox::files::write_output(path, replace, |w| f(w).map(drop)) {
        Ok(()) => Ok(()),
        // A named output that could not take everything is a failure, never a quiet success.
        Err(Failed::Fill(e)) if e.kind == ErrorKind::BrokenPipe => Err(cut_short(path)),
        Err(Failed::Fill(e)) => Err(e),
        Err(Failed::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => Err(cut_short(path)),
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
        io::ErrorKind::AlreadyExists => Error::conflict(format!("{e} (--replace overwrites it)")),
        _ => Error::output(e),
    }
}

fn list(ctx: &Ctx, args: ListArgs) -> Result<(), Error> {
    let filter = lockbox::vault::ItemFilter { level: args.level.clone(), prefix: args.prefix.clone() };
    let items = match ctx.remote()? {
        Some(remote) => remote.list(&args.tenant, &filter)?,
        None => ctx.open()?.list_where(&args.tenant, &filter)?,
    };
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let level = i.level.clone().unwrap_or_else(|| "(damaged)".into());
            vec![
                i.item.escape_debug().to_string(),
                level,
                i.key_epoch.to_string(),
                lockbox::format::size(i.size),
                time(i.created),
            ]
        })
        .collect();
    ctx.emit(json!(items.iter().map(output::item_json).collect::<Vec<_>>()), || {
        table(&["ITEM", "LEVEL", "EPOCH", "SIZE", "CREATED"], &rows)
    });
    Ok(())
}
