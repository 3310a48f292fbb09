//! STUB — replaced by the crypto branch.
use crate::core::keys::{Cert, ProjectKeys};
use std::time::SystemTime;
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{0}")]
    Failed(String),
}
pub fn sign_detached(_k: &ProjectKeys, _d: &[u8], _n: SystemTime) -> Result<String, SealError> {
    Ok("-----BEGIN PGP SIGNATURE-----\nSTUB\n-----END PGP SIGNATURE-----\n".into())
}
pub fn sign_and_encrypt(
    _k: &ProjectKeys,
    _r: &[&Cert],
    d: &[u8],
    _n: SystemTime,
) -> Result<String, SealError> {
    Ok(format!(
        "-----BEGIN PGP MESSAGE-----\n{}\n-----END PGP MESSAGE-----\n",
        d.len()
    ))
}
