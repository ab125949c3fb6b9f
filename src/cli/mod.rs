//! The `lockbox` command: parse, run, turn errors into messages and exit codes.

mod args;
mod audit_text;
mod bulk;
mod commands;
mod complete;
mod context;
mod demo;
mod demo_server;
mod monitor;
mod output;
mod progress;
mod remedy;
mod remote;
mod remote_bulk;
mod remote_download;
mod remote_items;
mod remote_upload;
mod secrets;
mod tenants;
mod tokens;
mod webhooks;
mod workflow;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use lockbox::vault::{Error, ErrorKind};

pub use args::Cli;

/// Runs the command line; the exit code follows the README (0 ok, 1 other, 2 usage,
/// 3 not found, 4 access denied, 5 integrity, 6 conflict, 7 vault in use).
pub fn main() -> ExitCode {
    // `COMPLETE=bash lockbox` prints the dynamic completion script; the shell then calls back
    // with COMPLETE set to complete a word (names read from the vault): nothing else runs.
    // A name of its own (not clap's COMPLETE), so that a stray COMPLETE in a cron job's
    // environment never turns a command into a completion script.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command)
        .var("LOCKBOX_COMPLETE")
        .complete();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) if std::env::args_os().any(|a| a == "--json") => {
            report(&Error::usage(usage_message(&e)), true);
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(2);
        }
    };
    let json = cli.json;
    // A panic is a bug, never an answer: report it in one line and exit 1, without a backtrace
    // that could echo data.
    std::panic::set_hook(Box::new(|info| {
        if lockbox::store::guarded() {
            return; // the store turns it into an integrity error
        }
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!(
            "lockbox: internal error{at}; please report it (if the vault file was damaged, run `lockbox verify`)"
        );
    }));
    let outcome = std::panic::catch_unwind(|| commands::run(cli))
        .unwrap_or_else(|_| Err(Error::other("stopped by an internal error")));
    // Output that could not be written fails the command, unless its reader simply went away
    // (`lockbox tenant list | head -1`), which ends it quietly.
    let outcome = match (outcome, output::stdout_failure()) {
        (Ok(()), Some(kind)) => Err(Error::output(std::io::Error::from(kind))),
        (outcome, _) => outcome,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, json);
            ExitCode::from(exit_code(e.kind))
        }
    }
}

/// A usage error whole, on one line: clap's message and everything it lists before the usage
/// line and the hint (`the following required arguments were not provided: --level <LEVEL>`).
fn usage_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("Usage:"))
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let joined = parts.join(" ");
    let message = joined.strip_prefix("error: ").unwrap_or(&joined);
    if message.is_empty() { e.kind().to_string() } else { message.to_owned() }
}

fn report(e: &Error, json: bool) {
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"error": {"kind": e.kind.name(), "code": exit_code(e.kind), "message": e.message, "hint": e.remedy.as_ref().map(remedy::hint)}})
        );
    } else {
        eprintln!("lockbox: {}", remedy::message(e));
    }
}

/// The process exit code for an error of `kind`: 1 other, 2 usage, 3 not found, 4 access
/// denied, 5 integrity, 6 conflict, 7 vault in use; a closed output pipe ends quietly (0).
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Other => 1,
        ErrorKind::Usage => 2,
        ErrorKind::NotFound => 3,
        ErrorKind::AccessDenied => 4,
        ErrorKind::Integrity => 5,
        ErrorKind::Conflict => 6,
        ErrorKind::InUse => 7,
        ErrorKind::BrokenPipe => 0,
    }
}

/// Where the vault is, as it may be shown: a directory's path, or a database URL without its
/// user and password.
pub fn shown_vault(dir: &std::path::Path) -> String {
    let text = dir.display().to_string();
    if !lockbox::vault::is_database(dir) {
        return text;
    }
    match text.split_once("://") {
        Some((scheme, rest)) => {
            // No user or password, and no query (it may hold `password=`).
            let rest = rest.split('?').next().unwrap_or_default();
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            format!("{scheme}://{rest}")
        }
        None => text,
    }
}

/// A database password given on the command line (`--vault postgres://user:PASSWORD@...`) is
/// refused: every user of the machine can read a process's arguments.
pub fn no_password_in_args() -> Result<(), Error> {
    for arg in std::env::args_os().skip(1) {
        let arg = arg.to_string_lossy();
        let Some(at) = arg.find("postgres://").or_else(|| arg.find("postgresql://")) else { continue };
        let rest = &arg[at..];
        let userinfo = rest.split_once("://").map(|(_, r)| r).and_then(|r| r.split_once('@')).map(|(u, _)| u);
        let in_query =
            rest.split_once('?').is_some_and(|(_, q)| q.to_ascii_lowercase().contains("password="));
        if userinfo.is_some_and(|u| u.contains(':')) || in_query {
            return Err(Error::usage(
                "a database password on the command line is readable by every user of this machine: put the URL in LOCKBOX_VAULT, or the password in PGPASSWORD",
            ));
        }
    }
    Ok(())
}

/// The vault directory: --vault, LOCKBOX_VAULT, or the per-user data directory.
pub fn vault_dir(flag: Option<PathBuf>) -> Result<PathBuf, Error> {
    flag.or_else(|| dirs::data_dir().map(|d| d.join("lockbox")))
        .ok_or_else(|| Error::usage("cannot find a per-user data directory; pass --vault DIR"))
}
