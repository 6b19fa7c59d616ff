//! Provider secrets at rest: AES-256-GCM under `SWITCHYARD_ENCRYPTION_KEY`.
//!
//! The key may be 64 hex digits or 32 base64-encoded bytes; any other text is
//! stretched with SHA-256 (use a long random value). Each ciphertext carries its own
//! random 96-bit nonce in front. Decryption failure (a wrong key) is an error, never
//! a silent empty secret.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

pub const ENV_VAR: &str = "SWITCHYARD_ENCRYPTION_KEY";

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the stored secret could not be decrypted (is SWITCHYARD_ENCRYPTION_KEY the one it was stored with?)")]
    Decrypt,
    #[error("the secret could not be encrypted")]
    Encrypt,
}

impl SecretBox {
    pub fn from_key_text(text: &str) -> SecretBox {
        let text = text.trim();
        let key: [u8; 32] = decode_hex(text)
            .or_else(|| {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
            })
            .unwrap_or_else(|| Sha256::digest(text.as_bytes()).into());
        SecretBox {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// From the environment; `None` when the variable is unset or empty.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<SecretBox> {
        env(ENV_VAR)
            .filter(|v| !v.trim().is_empty())
            .map(|v| SecretBox::from_key_text(&v))
    }

    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, SecretError> {
        let nonce: [u8; 12] = fastrand::u128(..).to_le_bytes()[..12]
            .try_into()
            .map_err(|_| SecretError::Encrypt)?;
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(Nonce::from_slice(&nonce), plaintext)
                .map_err(|_| SecretError::Encrypt)?,
        );
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, SecretError> {
        if sealed.len() < 12 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, body) = sealed.split_at(12);
        self.cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| SecretError::Decrypt)
    }
}

fn decode_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_a_wrong_key() {
        let a = SecretBox::from_key_text(&"ab".repeat(32));
        let sealed = a.seal(b"sk-upstream-secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"sk-ups"), "not in clear");
        assert_eq!(a.open(&sealed).unwrap(), b"sk-upstream-secret");
        // Two seals differ (fresh nonces).
        assert_ne!(a.seal(b"x").unwrap(), a.seal(b"x").unwrap());
        let b = SecretBox::from_key_text("another passphrase");
        assert_eq!(b.open(&sealed), Err(SecretError::Decrypt));
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert_eq!(a.open(&tampered), Err(SecretError::Decrypt));
        assert!(a.open(b"short").is_err());
        let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        let c = SecretBox::from_key_text(&b64);
        assert_eq!(c.open(&c.seal(b"y").unwrap()).unwrap(), b"y");
    }
}
