//! The SAML messages tessera sends as a service provider, by the HTTP-Redirect binding
//! (SAML 2.0 Bindings §3.4): an AuthnRequest to sign in and a LogoutRequest to sign out.
//! Each is deflated, base64-encoded and put in the query with `RelayState`; when signed, the
//! signature is RSA-SHA256 over the query string as sent (`SAMLRequest=…&RelayState=…&SigAlg=…`),
//! with the pool's SAML signing key.

use std::io::Write;
use std::time::SystemTime;

use base64::Engine;

use crate::Error;

/// `SigAlg` of RSA-SHA256.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// An xs:dateTime in UTC, as SAML writes instants.
pub fn instant(time: SystemTime) -> String {
    let time = time::OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    )
}

/// Escapes text for an XML attribute value or element content.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An AuthnRequest asking `destination` to sign a user in and post the response to `acs`.
pub fn authn_request(
    id: &str,
    issuer: &str,
    destination: &str,
    acs: &str,
    now: SystemTime,
) -> String {
    format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" "#,
            r#"ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" "#,
            r#"AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
            r#"<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" AllowCreate="true"/>"#,
            r#"</samlp:AuthnRequest>"#
        ),
        id = escape(id),
        instant = instant(now),
        destination = escape(destination),
        acs = escape(acs),
        issuer = escape(issuer),
    )
}

/// A LogoutRequest for the user `name_id` of the session `session_index`.
pub fn logout_request(
    id: &str,
    issuer: &str,
    destination: &str,
    name_id: &str,
    session_index: Option<&str>,
    now: SystemTime,
) -> String {
    let session = session_index
        .map(|index| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(index)))
        .unwrap_or_default();
    format!(
        concat!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" "#,
            r#"ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}">"#,
            r#"<saml:Issuer>{issuer}</saml:Issuer>"#,
            r#"<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID>"#,
            r#"{session}</samlp:LogoutRequest>"#
        ),
        id = escape(id),
        instant = instant(now),
        destination = escape(destination),
        issuer = escape(issuer),
        name_id = escape(name_id),
        session = session,
    )
}

/// The URL that sends `message` to `endpoint` by HTTP-Redirect, signed with `signing_key`
/// (PKCS#8 DER of an RSA key) when one is given. `parameter` is `SAMLRequest`.
pub fn redirect_url(
    endpoint: &str,
    parameter: &str,
    message: &str,
    relay_state: &str,
    signing_key: Option<&[u8]>,
) -> Result<String, Error> {
    let mut deflater =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    deflater
        .write_all(message.as_bytes())
        .map_err(|e| Error::internal(&e))?;
    let deflated = deflater.finish().map_err(|e| Error::internal(&e))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair(parameter, &encoded);
    query.append_pair("RelayState", relay_state);
    if let Some(key) = signing_key {
        query.append_pair("SigAlg", RSA_SHA256);
        // The signature covers the query exactly as it is sent (Bindings §3.4.4.1).
        let signed = query.finish();
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(key)
            .map_err(|_| Error::internal(&"SAML signing key"))?;
        let mut signature = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .map_err(|_| Error::internal(&"SAML request signature"))?;
        let mut tail = form_urlencoded::Serializer::new(String::new());
        tail.append_pair(
            "Signature",
            &base64::engine::general_purpose::STANDARD.encode(signature),
        );
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        return Ok(format!("{endpoint}{separator}{signed}&{}", tail.finish()));
    }
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{separator}{}", query.finish()))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::{Duration, SystemTime};

    use aws_lc_rs::signature::{KeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    use super::*;

    #[test]
    fn a_signed_redirect_carries_the_deflated_request_and_a_verifiable_signature() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (key, _) =
            crate::federation::signing::key_and_certificate("sp", now, &tessera_core::SystemRandom)
                .unwrap();
        let request = authn_request(
            "_abc",
            "urn:amazon:cognito:sp:us-east-1_X",
            "https://idp.example/sso?tenant=1",
            "https://sp.example/saml2/idpresponse",
            now,
        );
        assert!(
            request.contains(r#"IssueInstant="2027-01-15T08:00:00Z""#),
            "{request}"
        );
        let url = redirect_url(
            "https://idp.example/sso?tenant=1",
            "SAMLRequest",
            &request,
            "relay&state",
            Some(&key),
        )
        .unwrap();
        let query = url.split_once('?').unwrap().1;
        assert!(query.starts_with("tenant=1&SAMLRequest="));
        let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let deflated = base64::engine::general_purpose::STANDARD
            .decode(get("SAMLRequest"))
            .unwrap();
        let mut inflated = String::new();
        flate2::read::DeflateDecoder::new(deflated.as_slice())
            .read_to_string(&mut inflated)
            .unwrap();
        assert_eq!(inflated, request);
        assert_eq!(get("RelayState"), "relay&state");
        assert_eq!(get("SigAlg"), RSA_SHA256);
        // The signature covers SAMLRequest, RelayState and SigAlg exactly as sent.
        let signed = &query["tenant=1&".len()..query.find("&Signature=").unwrap()];
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&key).unwrap();
        let signature = base64::engine::general_purpose::STANDARD
            .decode(get("Signature"))
            .unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, pair.public_key().as_ref())
            .verify(signed.as_bytes(), &signature)
            .unwrap();
        assert_eq!(
            escape(r#"<a href="x">&"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;"
        );
    }
}
