//! The server's pin, `sha256/` + base64 of the SHA-256 of its certificate's
//! SubjectPublicKeyInfo (as HTTP public key pinning wrote it): what a client checks in the
//! TLS handshake, before any request (and so any token) is sent.

use base64ct::{Base64, Encoding};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// The pin of a certificate (DER), or why it has none.
pub fn of_certificate(der: &[u8]) -> Result<String, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("not a certificate: {e}"))?;
    let spki = cert.tbs_certificate.subject_pki.raw;
    Ok(format!("sha256/{}", Base64::encode_string(&lockbox::crypto::sha256(spki))))
}

/// Whether `text` has the shape of a pin.
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix("sha256/").and_then(|b| Base64::decode_vec(b).ok()).is_some_and(|d| d.len() == 32)
}

/// A verifier that accepts exactly the certificates whose pin is in its set, whatever signed
/// them (a self-signed certificate is the usual case), and still checks the handshake's
/// signature with the certificate's key: a server that shows a pinned certificate must hold
/// its private key.
#[derive(Debug)]
pub struct Pinned {
    pins: Vec<String>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl Pinned {
    pub fn new(pins: Vec<String>, provider: &CryptoProvider) -> Arc<Pinned> {
        Arc::new(Pinned { pins, algorithms: provider.signature_verification_algorithms })
    }
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let pin = of_certificate(end_entity).map_err(rustls::Error::General)?;
        if self.pins.contains(&pin) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "the server's certificate has pin {pin}, which is not pinned"
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
