//! How a PostgreSQL vault is reached: its URL as libpq users write it (`sslmode` and
//! `sslrootcert` understood), the password from the URL, a file or the environment, and TLS
//! that always verifies the database's certificate and name.
//!
//! Why verify always: TLS to an unverified server (libpq's `sslmode=require`) stops only a
//! listener, not someone in the path, who would then read every envelope, audit entry and
//! token hash on their way. The database belongs to the operator, whom nothing here trusts;
//! TLS keeps out everyone else on the network between the servers and it.

use std::path::Path;

use postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;
use zeroize::Zeroizing;

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
    let bad = |why: String| StoreError::BadLocation(format!("not a usable PostgreSQL URL: {why}"));
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut mode: Option<String> = None;
    let mut root_file: Option<String> = None;
    // The other options are kept as written: the driver decodes them itself (a `+` is a `+`).
    let mut kept: Vec<&str> = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let decoded = || {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| bad(format!("the value of {key} is not UTF-8")))
        };
        let seen = match key {
            "sslmode" => mode.replace(decoded()?).is_some(),
            "sslrootcert" => root_file.replace(decoded()?).is_some(),
            _ => {
                kept.push(piece);
                false
            }
        };
        if seen {
            return Err(bad(format!("{key} is given twice")));
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
    kept.push(if tls { "sslmode=require" } else { "sslmode=disable" });
    let rewritten = format!("{base}?{}", kept.join("&"));
    let mut config: postgres::Config = rewritten.parse().map_err(|e: postgres::Error| bad(e.to_string()))?;
    let shown = shown(&config);
    // Where the connection really goes: `hostaddr` wins over `host` (which then only names the
    // server for TLS), and no host at all is the driver's default, not known to be here.
    let local = !config.get_hosts().is_empty()
        && config.get_hosts().iter().all(is_local)
        && config.get_hostaddrs().iter().all(|a| a.is_loopback());
    if !tls && !local && mode.as_deref() != Some("disable") {
        return Err(StoreError::BadLocation(format!(
            "{shown} is not known to be on this machine: the connection to it must be TLS (sslmode=verify-full), or be asked to be plaintext (sslmode=disable)"
        )));
    }
    if config.get_password().is_none() {
        if let Some(file) = std::env::var_os("LOCKBOX_DB_PASSWORD_FILE") {
            config.password(&*read_password(Path::new(&file))?);
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

/// The password in `path`: the file's bytes but a final line break; a file others can read
/// is refused (as libpq refuses such a password file). Read into memory that is wiped; the
/// driver keeps its own copy, unwiped, while the vault is open.
fn read_password(path: &Path) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    use std::io::Read;
    let failed = |why: String| {
        StoreError::BadLocation(format!("cannot use the database password file {}: {why}", path.display()))
    };
    // Checked before opening too: opening a FIFO would wait for a writer.
    let is_file =
        |m: &std::fs::Metadata| if m.is_file() { Ok(()) } else { Err(failed("not a regular file".into())) };
    is_file(&std::fs::metadata(path).map_err(|e| failed(e.to_string()))?)?;
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let meta = file.metadata().map_err(|e| failed(e.to_string()))?;
    is_file(&meta)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(failed("other users can read or change it (make it mode 0600)".into()));
        }
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD_FILE as usize + 1));
    file.take(MAX_PASSWORD_FILE + 1).read_to_end(&mut bytes).map_err(|e| failed(e.to_string()))?;
    if bytes.len() as u64 > MAX_PASSWORD_FILE {
        return Err(failed(format!("longer than {MAX_PASSWORD_FILE} bytes")));
    }
    for end in [&b"\n"[..], b"\r"] {
        if bytes.ends_with(end) {
            bytes.pop();
        }
    }
    if bytes.is_empty() {
        return Err(failed("it is empty".into()));
    }
    Ok(bytes)
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
                StoreError::BadLocation(format!("cannot use the database's CA certificates {path}: {why}"))
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
