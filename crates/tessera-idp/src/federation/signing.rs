//! The pool's SAML signing key and certificate (GetSigningCertificate), made on first use and
//! kept: AuthnRequests and LogoutRequests are signed with it, and IdPs that want signed
//! requests are given its certificate. A SAML provider that wants encrypted responses gets a
//! key pair of its own from [`key_and_certificate`].

use std::time::{Duration, SystemTime};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use tessera_store::SamlSigningKey;

use crate::{Error, Service};

/// Cognito's certificates are "valid for 10 years" (the model's GetSigningCertificate).
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// A fresh RSA-2048 key (PKCS#8 DER) and a self-signed certificate (DER) for `subject`, valid
/// for ten years from `now`, with a serial from `random`. aws-lc draws the primes from its
/// own generator, as for the pools' token keys.
pub fn key_and_certificate(
    subject: &str,
    now: SystemTime,
    random: &dyn tessera_core::Random,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| Error::internal(&"rsa keygen"))?;
    let pkcs8 = pair
        .as_der()
        .map_err(|_| Error::internal(&"pkcs8 encode"))?
        .as_ref()
        .to_vec();
    // rcgen reads the key's algorithm from the PKCS#8 document: RSA with SHA-256.
    let signer = rcgen::KeyPair::try_from(pkcs8.as_slice()).map_err(|e| Error::internal(&e))?;
    let mut params = rcgen::CertificateParams::default();
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::CommonName, subject);
    params.distinguished_name = name;
    params.not_before = time::OffsetDateTime::from(now);
    params.not_after = time::OffsetDateTime::from(now + VALIDITY);
    let mut serial = [0u8; 16];
    random.fill(&mut serial);
    // A positive serial: the top bit clear (RFC 5280 §4.1.2.2).
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let certificate = params
        .self_signed(&signer)
        .map_err(|e| Error::internal(&e))?;
    Ok((pkcs8, certificate.der().to_vec()))
}

/// The pool's SAML signing key, made and stored on first use.
pub async fn pool_key(state: &Service, pool_id: &str) -> Result<SamlSigningKey, Error> {
    if let Some(key) = state.store.saml_signing_key(pool_id).await? {
        return Ok(key);
    }
    let now = state.clock.now();
    let subject = super::provider::sp_entity_id(pool_id);
    let (private_key, certificate) = {
        let random = state.random.clone();
        state
            .hash_work(move || key_and_certificate(&subject, now, random.as_ref()))
            .await??
    };
    Ok(state
        .store
        .insert_saml_signing_key(&SamlSigningKey {
            pool_id: pool_id.to_owned(),
            private_key,
            certificate,
            created_at: now,
        })
        .await?)
}
