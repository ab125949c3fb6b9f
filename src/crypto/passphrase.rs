//! Passphrase protection of key files: Argon2id, then AES-256-GCM with the header as
//! associated data.

use argon2::{Algorithm, Argon2, Block, Params, Version};
use zeroize::Zeroizing;

use super::CryptoError;
use super::aead::AeadKey;
use crate::format::KdfParams;

/// The key that encrypts a key file's body, derived from the passphrase. Zeroized on drop.
pub struct FileKey(Zeroizing<[u8; 32]>);

impl FileKey {
    /// Runs Argon2id with the file's parameters and salt.
    pub fn derive(passphrase: &[u8], kdf: &KdfParams, salt: &[u8; 16]) -> Result<FileKey, CryptoError> {
        let params =
            Params::new(kdf.memory_kib, kdf.iterations, kdf.lanes, Some(32)).map_err(|_| CryptoError::Kdf)?;
        let mut key = Zeroizing::new([0u8; 32]);
        // The work area holds values derived from the passphrase: lockbox allocates it (a failed
        // allocation is an error, not an abort) so that it is wiped before it is freed.
        let mut memory = Zeroizing::new(Vec::<Block>::new());
        memory.try_reserve_exact(params.block_count()).map_err(|_| CryptoError::Kdf)?;
        memory.resize(params.block_count(), Block::default());
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(passphrase, salt, &mut key[..], &mut memory[..])
            .map_err(|_| CryptoError::Kdf)?;
        Ok(FileKey(key))
    }

    fn cipher(&self) -> AeadKey {
        AeadKey::new(&self.0)
    }
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(redacted)")
    }
}

/// Encrypts a key file body; `header` (which holds the nonce) is authenticated with it.
pub fn seal_body(
    key: &FileKey,
    header: &[u8],
    nonce: &[u8; 12],
    body: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut buf = body.to_vec();
    key.cipher().seal(*nonce, header, &mut buf)?;
    Ok(buf)
}

/// Decrypts a key file body: wrong passphrase and altered file are indistinguishable.
pub fn open_body(
    key: &FileKey,
    header: &[u8],
    nonce: &[u8; 12],
    ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    key.cipher().open(*nonce, header, &mut buf)?;
    Ok(buf)
}
