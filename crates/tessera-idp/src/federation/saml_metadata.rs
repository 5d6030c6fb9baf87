//! A SAML IdP's metadata (SAML 2.0 Metadata, OASIS saml-metadata-2.0-os): its entity id, its
//! single sign-on and single logout URLs per binding, and its signing certificates, which
//! are the only keys a response is ever checked with.
//!
//! The document is read with roxmltree, which refuses DTDs, so an entity declaration (XXE,
//! billion laughs) never reaches the parser's expansion.

use std::time::SystemTime;

use base64::Engine;

const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// Cognito's limit on a certificate in metadata (DG, SAML things to know).
const MAX_CERTIFICATE_CHARS: usize = 4096;

/// What tessera needs of an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_redirect: Option<String>,
    pub sso_post: Option<String>,
    pub slo_redirect: Option<String>,
    pub slo_post: Option<String>,
    /// DER certificates whose keys may sign responses and assertions.
    pub signing_certificates: Vec<Vec<u8>>,
    /// `WantAuthnRequestsSigned`.
    pub wants_signed_requests: bool,
}

/// Why metadata was refused, said for the administrator who supplied it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MetadataError(String);

fn error(message: impl Into<String>) -> MetadataError {
    MetadataError(message.into())
}

/// Reads `document`, requiring an IdP descriptor with an HTTP-Redirect single sign-on URL
/// and at least one signing certificate that is valid at `now`.
pub fn parse(document: &str, now: SystemTime) -> Result<IdpMetadata, MetadataError> {
    let xml = roxmltree::Document::parse(document)
        .map_err(|e| error(format!("the document is not well-formed XML ({e})")))?;
    let descriptor = xml
        .descendants()
        .find(|n| n.has_tag_name((METADATA, "IDPSSODescriptor")))
        .ok_or_else(|| error("the document has no IDPSSODescriptor"))?;
    let entity = descriptor
        .ancestors()
        .find(|n| n.has_tag_name((METADATA, "EntityDescriptor")))
        .ok_or_else(|| error("the IDPSSODescriptor is not inside an EntityDescriptor"))?;
    let entity_id = entity
        .attribute("entityID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| error("the EntityDescriptor has no entityID"))?
        .to_owned();
    let service = |element: &str, binding: &str| {
        descriptor
            .children()
            .filter(|n| n.has_tag_name((METADATA, element)))
            .find(|n| n.attribute("Binding") == Some(binding))
            .and_then(|n| n.attribute("Location"))
            .map(String::from)
    };
    let mut signing_certificates = Vec::new();
    let mut last_refusal = None;
    for key in descriptor
        .children()
        .filter(|n| n.has_tag_name((METADATA, "KeyDescriptor")))
    {
        // A KeyDescriptor without `use` serves both signing and encryption.
        if key.attribute("use").is_some_and(|u| u != "signing") {
            continue;
        }
        for certificate in key
            .descendants()
            .filter(|n| n.has_tag_name((DSIG, "X509Certificate")))
        {
            let text: String = certificate
                .text()
                .unwrap_or_default()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if text.len() > MAX_CERTIFICATE_CHARS {
                return Err(error(format!(
                    "a signing certificate is longer than {MAX_CERTIFICATE_CHARS} characters"
                )));
            }
            let der = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|_| error("a signing certificate is not base64"))?;
            // An expired certificate beside a current one is a rollover in progress: the
            // expired one is no longer used, the document still is.
            match check_certificate(&der, now) {
                Ok(()) => signing_certificates.push(der),
                Err(refusal) => last_refusal = Some(refusal),
            }
        }
    }
    if signing_certificates.is_empty() {
        // Without a certificate no response could be checked: refused rather than trusted.
        return Err(last_refusal
            .unwrap_or_else(|| error("the IDPSSODescriptor has no signing certificate")));
    }
    let metadata = IdpMetadata {
        entity_id,
        sso_redirect: service("SingleSignOnService", REDIRECT_BINDING),
        sso_post: service("SingleSignOnService", POST_BINDING),
        slo_redirect: service("SingleLogoutService", REDIRECT_BINDING),
        slo_post: service("SingleLogoutService", POST_BINDING),
        signing_certificates,
        wants_signed_requests: descriptor.attribute("WantAuthnRequestsSigned") == Some("true"),
    };
    if metadata.sso_redirect.is_none() {
        return Err(error(
            "the IDPSSODescriptor has no SingleSignOnService with the HTTP-Redirect binding",
        ));
    }
    Ok(metadata)
}

fn check_certificate(der: &[u8], now: SystemTime) -> Result<(), MetadataError> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|_| error("a signing certificate is not an X.509 certificate"))?;
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // Cognito: the certificate "must not be expired when you configure the SAML IdP".
    if certificate.validity().not_after.timestamp() < now {
        return Err(error("a signing certificate has expired"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    /// A certificate valid for ten years from `now`.
    fn certificate(now: SystemTime) -> String {
        let (_, der) = crate::federation::signing::key_and_certificate(
            "idp",
            now,
            &tessera_core::SystemRandom,
        )
        .unwrap();
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    fn metadata(key: &str, extra: &str) -> String {
        format!(
            r#"{extra}<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/md">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">
{key}
<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/slo"/>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    fn key_descriptor(certificate: &str) -> String {
        format!(
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        )
    }

    #[test]
    fn metadata_gives_the_urls_and_signing_certificates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let parsed = parse(&metadata(&key_descriptor(&certificate(now)), ""), now).unwrap();
        assert_eq!(parsed.entity_id, "https://idp.example/md");
        assert_eq!(
            parsed.sso_redirect.as_deref(),
            Some("https://idp.example/sso")
        );
        assert_eq!(
            parsed.slo_redirect.as_deref(),
            Some("https://idp.example/slo")
        );
        assert_eq!(parsed.signing_certificates.len(), 1);
        assert!(parsed.wants_signed_requests);
    }

    #[test]
    fn metadata_without_a_usable_signing_certificate_is_refused() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // No certificate: no response could ever be checked.
        assert!(parse(&metadata("", ""), now).is_err());
        // Expired: the certificate was made ten years before an instant past its end.
        let old = certificate(now);
        let later = now + Duration::from_secs(11 * 365 * 24 * 3600);
        let error = parse(&metadata(&key_descriptor(&old), ""), later).unwrap_err();
        assert!(error.to_string().contains("expired"), "{error}");
        assert!(parse(&metadata(&key_descriptor("bm90IGEgY2VydA=="), ""), now).is_err());
    }

    #[test]
    fn a_document_type_declaration_is_refused() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let entity = r#"<!DOCTYPE md [<!ENTITY x SYSTEM "file:///etc/passwd">]>"#;
        let document = metadata(&key_descriptor(&certificate(now)), entity);
        assert!(parse(&document, now).is_err());
    }
}
