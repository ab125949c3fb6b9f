//! What an error's remedy means at this command line: the command and flags to run. The
//! library states the fact ([`Remedy`]); only the front end names commands.

use lockbox::vault::{Error, Remedy};

/// The error's message, with its remedy as a command a person can run.
pub fn message(e: &Error) -> String {
    match &e.remedy {
        Some(r) => format!("{} ({})", e.message, hint(r)),
        None => e.message.clone(),
    }
}

/// The remedy as this command line words it.
pub fn hint(r: &Remedy) -> String {
    match r {
        Remedy::CreateVault => "run `lockbox init` first".into(),
        Remedy::Replace => "pass --replace to overwrite it".into(),
        Remedy::AcceptRestore { tenant } => format!(
            "if the vault was restored from a backup on purpose, accept that with `lockbox tenant accept-restore {tenant} --keyring FILE`"
        ),
        Remedy::Resync { tenant } => {
            format!("bring this keyring up to date with `lockbox tenant resync {tenant} --keyring FILE`")
        }
        Remedy::Rotate { tenant, level } => format!("run `lockbox level rotate {tenant} {level} --keyring FILE`"),
        Remedy::FullRequestId => "`lockbox request list` and `lockbox request show` give it".into(),
        Remedy::TrustEngineer { tenant, engineer } => format!(
            "if the engineer really has a new key, check its fingerprint with them and run `lockbox engineer trust {engineer} FINGERPRINT --tenant {tenant} --keyring FILE`"
        ),
        Remedy::TrustTenant { tenant } => format!(
            "get the tenant key fingerprint from the customer (through the support case) and run `lockbox tenant trust {tenant} FINGERPRINT`"
        ),
        Remedy::TrustMonitor { tenant } => format!(
            "run `lockbox monitor trust {tenant} FINGERPRINT --monitor FILE` with the fingerprint the customer gave"
        ),
        Remedy::NameMonitor { tenant, key } => {
            format!("the customer names it with `lockbox tenant monitor {tenant} --key {key}`")
        }
        Remedy::RefreshManifest { tenant } => {
            format!("the customer runs `lockbox tenant refresh {tenant} --keyring FILE`")
        }
        Remedy::Policy { tenant } => format!("the customer sets it with `lockbox tenant policy {tenant}`"),
        Remedy::MoveItems => "move the items with the lockbox that made it: `lockbox export` each tenant with its keyring, then `lockbox init` a new vault, `lockbox tenant create` and `lockbox import`".into(),
    }
}
