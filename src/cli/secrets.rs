//! Passphrases: from --passphrase-file, else LOCKBOX_PASSPHRASE, else a terminal prompt.
//! Never from a command-line argument.

use std::io::Read;
use std::path::Path;

use lockbox::keyring::Passphrase;
use lockbox::vault::Error;

const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;
/// Shortest passphrase accepted for a new keyring or identity. Argon2id slows each guess; it
/// cannot save a passphrase of a few characters.
const MIN_NEW_PASSPHRASE_CHARS: usize = 12;

/// Gets the passphrase for `what` (a file path, shown in the prompt). `new` asks twice.
pub fn passphrase(file: Option<&Path>, what: &Path, new: bool) -> Result<Passphrase, Error> {
    let pass = if let Some(file) = file {
        let mut text = String::new();
        std::fs::File::open(file)
            .and_then(|f| f.take(MAX_PASSPHRASE_FILE).read_to_string(&mut text))
            .map_err(|e| Error::usage(format!("cannot read passphrase file {}: {e}", file.display())))?;
        Passphrase::new(text)
    } else if let Ok(text) = std::env::var("LOCKBOX_PASSPHRASE") {
        Passphrase::new(text)
    } else {
        prompt(what, new)?
    };
    if pass.is_empty() {
        return Err(Error::usage(format!("the passphrase for {} is empty", what.display())));
    }
    if new && pass.chars() < MIN_NEW_PASSPHRASE_CHARS {
        return Err(Error::usage(format!(
            "a new passphrase needs at least {MIN_NEW_PASSPHRASE_CHARS} characters (a few unrelated words are easy to remember); {} was not created",
            what.display()
        )));
    }
    Ok(pass)
}

/// The new passphrase of `what` when changing it: from `file`, else LOCKBOX_NEW_PASSPHRASE,
/// else a terminal prompt (twice); never the current passphrase's sources.
pub fn new_passphrase(file: Option<&Path>, what: &Path) -> Result<Passphrase, Error> {
    let pass = match (file, std::env::var("LOCKBOX_NEW_PASSPHRASE")) {
        (Some(file), _) => {
            let mut text = String::new();
            std::fs::File::open(file)
                .and_then(|f| f.take(MAX_PASSPHRASE_FILE).read_to_string(&mut text))
                .map_err(|e| Error::usage(format!("cannot read passphrase file {}: {e}", file.display())))?;
            Passphrase::new(text)
        }
        (None, Ok(text)) => Passphrase::new(text),
        (None, Err(_)) => prompt(what, true).map_err(|_| {
            Error::usage(format!(
                "a new passphrase is needed for {}: set LOCKBOX_NEW_PASSPHRASE, pass --new-passphrase-file FILE, or run on a terminal",
                what.display()
            ))
        })?,
    };
    if pass.chars() < MIN_NEW_PASSPHRASE_CHARS {
        return Err(Error::usage(format!(
            "a new passphrase needs at least {MIN_NEW_PASSPHRASE_CHARS} characters (a few unrelated words are easy to remember); {} was not changed",
            what.display()
        )));
    }
    Ok(pass)
}

fn prompt(what: &Path, new: bool) -> Result<Passphrase, Error> {
    let no_tty = |_| {
        Error::usage(format!(
            "a passphrase is needed for {}: set LOCKBOX_PASSPHRASE, pass --passphrase-file FILE, or run on a terminal",
            what.display()
        ))
    };
    let verb = if new { "New passphrase" } else { "Passphrase" };
    let first = Passphrase::new(
        rpassword::prompt_password(format!("{verb} for {}: ", what.display())).map_err(no_tty)?,
    );
    if new {
        let again = Passphrase::new(rpassword::prompt_password("Repeat it: ").map_err(no_tty)?);
        if !first.matches(&again) {
            return Err(Error::usage("the two passphrases differ"));
        }
    }
    Ok(first)
}
