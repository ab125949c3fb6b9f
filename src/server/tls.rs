//! The server's certificate: the one given (`--tls-cert`, `--tls-key`), or a self-signed one
//! made at first start and kept beside the vault (`server/tls.crt`, `server/tls.key`, mode
//! 0600), so that its pin stays the same from one start to the next.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lockbox::vault::Error;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate chain and its key, ready to serve, with the pin clients check.
pub struct Identity {
    pub config: Arc<rustls::ServerConfig>,
    pub pin: String,
    /// Where the certificate came from (for the startup message).
    pub cert_path: PathBuf,
}

fn read_pem(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::not_found(format!("cannot read {}: {e}", path.display())))
}

/// Loads `cert` and `key` (PEM), or makes (once) a self-signed pair in `dir`.
pub fn identity(given: Option<(&Path, &Path)>, dir: &Path) -> Result<Identity, Error> {
    let (cert_path, key_path) = match given {
        Some((c, k)) => (c.to_owned(), k.to_owned()),
        None => {
            let (c, k) = (dir.join("tls.crt"), dir.join("tls.key"));
            if !c.exists() || !k.exists() {
                make_self_signed(dir, &c, &k)?;
            }
            (c, k)
        }
    };
    let bad = |path: &Path, why: String| Error::usage(format!("{}: {why}", path.display()));
    let chain: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &read_pem(&cert_path)?[..])
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&cert_path, format!("not a PEM certificate chain ({e})")))?;
    let first = chain.first().ok_or_else(|| bad(&cert_path, "holds no certificate".into()))?;
    let pin = super::pin::of_certificate(first).map_err(|e| bad(&cert_path, e))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &read_pem(&key_path)?[..])
        .map_err(|e| bad(&key_path, format!("not a PEM private key ({e})")))?
        .ok_or_else(|| bad(&key_path, "holds no private key".into()))?;
    let provider = crate::server::tls_provider();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::other(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(&key_path, format!("does not go with the certificate ({e})")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Identity { config: Arc::new(config), pin, cert_path })
}

fn make_self_signed(dir: &Path, cert: &Path, key: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::other(format!("cannot make a certificate: {e}")))?;
    let key_pem = zeroize::Zeroizing::new(made.signing_key.serialize_pem());
    // The key first: a certificate is never kept without its key.
    lockbox::files::write_private(key, key_pem.as_bytes())
        .map_err(|e| Error::other(format!("cannot write {}: {e}", key.display())))?;
    lockbox::files::write_private(cert, made.cert.pem().as_bytes())
        .map_err(|e| Error::other(format!("cannot write {}: {e}", cert.display())))?;
    Ok(())
}
