//! How a PostgreSQL vault is reached: its URL as libpq users write it (`sslmode` and
//! `sslrootcert` understood), the password from the URL, a file or the environment, and TLS
//! that always verifies the database's certificate and name.
//!
//! Why verify always: TLS to an unverified server (libpq's `sslmode=require`) stops only a
//! listener, not someone in the path, who would then read every envelope, audit entry and
//! token hash on their way. The database belongs to the operator, whom nothing here trusts;
//! TLS keeps out everyone else on the network between the servers and it.

use std::path::Path;

use postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::StoreError;

/// Where a vault's database is and how to connect to it.
pub(super) struct Target {
    pub config: postgres::Config,
    /// The URL without user or password, for messages.
    pub shown: String,
    /// TLS, when the URL asks for it.
    pub tls: Option<MakeRustlsConnect>,
}

/// The largest password file read.
const MAX_PASSWORD_FILE: u64 = 4096;

/// Reads the URL: `sslmode=disable` is plain TCP; `require`, `verify-ca` and `verify-full` are
/// all TLS with the certificate checked against `sslrootcert` (a PEM file of CA certificates)
/// or the web's roots, and its name against the host; `prefer` or no `sslmode` is plain TCP
/// to this machine (a loopback address or a Unix socket) and refused for any other host, where
/// plaintext must be asked for. The password, when the URL has none, comes from the file named
/// by `LOCKBOX_DB_PASSWORD_FILE`, else from `PGPASSWORD`.
pub(super) fn target(url: &str) -> Result<Target, StoreError> {
    let bad = |why: String| StoreError::Engine(format!("not a usable PostgreSQL URL: {why}"));
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode: Option<String> = None;
    let mut root_file: Option<String> = None;
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root_file = Some(value.into_owned()),
            _ => {
                kept.append_pair(&key, &value);
            }
        }
    }
    let tls = match mode.as_deref() {
        Some("disable") => false,
        Some("require" | "verify-ca" | "verify-full") => true,
        None | Some("prefer") => false,
        Some(other) => {
            return Err(bad(format!(
                "sslmode {other:?} is not one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    if !tls && root_file.is_some() {
        return Err(bad("sslrootcert is given but sslmode does not ask for TLS".into()));
    }
    kept.append_pair("sslmode", if tls { "require" } else { "disable" });
    let rewritten = format!("{base}?{}", kept.finish());
    let mut config: postgres::Config = rewritten.parse().map_err(|e: postgres::Error| bad(e.to_string()))?;
    let shown = shown(&config);
    let local = config.get_hosts().iter().all(is_local);
    if !tls && !local && mode.as_deref() != Some("disable") {
        return Err(StoreError::Engine(format!(
            "{shown} is not on this machine: the connection to it must be TLS (sslmode=verify-full), or be asked to be plaintext (sslmode=disable)"
        )));
    }
    debug_assert_eq!(config.get_ssl_mode(), if tls { SslMode::Require } else { SslMode::Disable });
    if config.get_password().is_none() {
        if let Some(file) = std::env::var_os("LOCKBOX_DB_PASSWORD_FILE") {
            config.password(read_password(Path::new(&file))?);
        } else if let Ok(password) = std::env::var("PGPASSWORD") {
            config.password(password);
        }
    }
    let tls = match tls {
        true => Some(connector(root_file.as_deref())?),
        false => None,
    };
    Ok(Target { config, shown, tls })
}

/// The URL without credentials or options.
fn shown(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    format!("postgres://{host}/{}", config.get_dbname().unwrap_or_default())
}

fn is_local(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name == "localhost"
                || name.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// The password in `path`: the file's whole text but a final line break; a file others can
/// read is refused (as libpq refuses such a password file).
fn read_password(path: &Path) -> Result<String, StoreError> {
    use std::io::Read;
    let failed = |why: String| {
        StoreError::Engine(format!("cannot use the database password file {}: {why}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let meta = file.metadata().map_err(|e| failed(e.to_string()))?;
    if !meta.is_file() {
        return Err(failed("not a regular file".into()));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(failed("other users can read or change it (make it mode 0600)".into()));
        }
    }
    let mut text = zeroize::Zeroizing::new(String::new());
    file.take(MAX_PASSWORD_FILE + 1).read_to_string(&mut text).map_err(|e| failed(e.to_string()))?;
    if text.len() as u64 > MAX_PASSWORD_FILE {
        return Err(failed(format!("longer than {MAX_PASSWORD_FILE} bytes")));
    }
    let password = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if password.is_empty() {
        return Err(failed("it is empty".into()));
    }
    Ok(password.to_owned())
}

/// TLS that checks the database's certificate against the CA certificates in `root_file`,
/// or the web's roots without one, and its name against the host connected to.
// ring, as the server's TLS (its deprecation is for lacking post-quantum key exchange:
// docs/DESIGN.md).
#[allow(deprecated)]
fn connector(root_file: Option<&str>) -> Result<MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match root_file {
        Some(path) => {
            let failed = |why: String| {
                StoreError::Engine(format!("cannot use the database's CA certificates {path}: {why}"))
            };
            let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
            let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
                .collect::<Result<_, _>>()
                .map_err(|e| failed(e.to_string()))?;
            if certs.is_empty() {
                return Err(failed("it holds no PEM certificate".into()));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| failed(e.to_string()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StoreError::Engine(format!("TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}
