//! A SAML Response posted to `/saml2/idpresponse`, checked as a service provider must
//! (SAML 2.0 Core §3.2.2, Profiles §4.1.4.3) before anything in it is believed:
//!
//! - the document has no DTD (both parsers refuse one);
//! - the response's status is Success, its Destination (when present) is the ACS URL, its
//!   Issuer (when present) is the IdP's entity id;
//! - it holds exactly one assertion (encrypted when the provider wants encrypted responses),
//!   a direct child of the response, and no other `Assertion` element anywhere;
//! - a signature of the IdP verifies over the response or over that assertion, a signature
//!   found as the direct child of the element it names by `#ID`: data is read only from the
//!   canonical bytes the signature covers, re-parsed, which is what defeats signature
//!   wrapping and parser differentials;
//! - the assertion's Issuer is the IdP; its Conditions hold now and name this SP as audience;
//!   its bearer SubjectConfirmationData names the ACS as Recipient, is not expired, and
//!   answers the AuthnRequest tessera sent (`InResponseTo`), or, for an IdP-initiated sign-in,
//!   answers none and was issued in the last six minutes;
//! - text is read from the canonical form, which has no comments, as the concatenation of
//!   all its text nodes, so a comment inside a NameID (CVE-2017-11428) cannot shorten it.
//!
//! The signature check itself (canonicalization, digest, RSA) and decryption are
//! [`super::xml_signature`]'s.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use roxmltree::{Document, Node};

const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Clock skew allowed on both sides of the assertion's time window.
pub const CLOCK_SKEW: Duration = Duration::from_secs(120);
/// An IdP-initiated assertion "must have been issued within the previous 6 minutes".
pub const UNSOLICITED_WINDOW: Duration = Duration::from_secs(360);
/// The most characters of a posted SAMLResponse Cognito takes (100,000) and tessera too.
pub const MAX_RESPONSE_CHARS: usize = 100_000;

/// What an accepted response says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlIdentity {
    pub assertion_id: String,
    pub name_id: String,
    pub session_index: Option<String>,
    /// Attribute name to its values.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// When the assertion stops being valid: how long its id is remembered against replay.
    pub not_on_or_after: SystemTime,
}

/// Why a response was refused; the text goes to the app as the error description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refused(text: impl Into<String>) -> Refused {
    Refused(text.into())
}

/// What the response must match.
pub struct Expectation<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub idp_entity_id: &'a str,
    /// The AuthnRequest's id, or `None` for an IdP-initiated sign-in.
    pub in_response_to: Option<&'a str>,
    pub now: SystemTime,
    /// Whether the assertion must come encrypted.
    pub encrypted: bool,
}

/// The keys a response is checked and opened with.
pub struct Keys<'a> {
    /// The IdP's RSA public keys (PKCS#1 DER), from the certificates of its metadata.
    pub idp: &'a [Vec<u8>],
    /// The provider's encryption key (PKCS#8 DER), when it wants encrypted responses.
    pub decryption: Option<&'a [u8]>,
}

/// The text of a node: all its descendant text nodes, concatenated.
pub fn full_text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

fn child<'a, 'input>(node: Node<'a, 'input>, ns: &str, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|n| n.has_tag_name((ns, name)))
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |n| n.has_tag_name((ns, name)))
}

/// Parses an xs:dateTime.
pub fn parse_instant(text: &str) -> Result<SystemTime, Refused> {
    let parsed =
        time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
            .map_err(|_| {
                refused(format!(
                    "The instant {} is not a date and time.",
                    clip(text)
                ))
            })?;
    Ok(parsed.into())
}

fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

fn attribute_time(node: Node<'_, '_>, name: &str) -> Result<Option<SystemTime>, Refused> {
    node.attribute(name).map(parse_instant).transpose()
}

fn signature_refused(detail: String) -> Refused {
    tracing::info!(%detail, "SAML signature refused");
    refused("The SAML response's signature is not valid.")
}

/// Checks the posted, base64-decoded response and returns what it says about the user.
pub fn check(
    xml: &str,
    expected: &Expectation<'_>,
    keys: &Keys<'_>,
) -> Result<SamlIdentity, Refused> {
    use super::xml_signature as dsig;
    // The envelope, read for its status and addressing (refusals only: nothing is believed
    // from it unless its signature verifies).
    let envelope =
        Document::parse(xml).map_err(|_| refused("The SAML response is not well-formed XML."))?;
    let response = envelope.root_element();
    if !response.has_tag_name((PROTOCOL, "Response")) {
        return Err(refused("The SAML message is not a Response."));
    }
    let status = child(response, PROTOCOL, "Status")
        .and_then(|s| child(s, PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"));
    if status != Some(SUCCESS) {
        return Err(refused(format!(
            "The identity provider did not sign the user in ({}).",
            clip(status.unwrap_or("no status"))
        )));
    }
    if response
        .attribute("Destination")
        .is_some_and(|d| d != expected.acs_url)
    {
        return Err(refused("The SAML response is for another destination."));
    }
    if child(response, ASSERTION, "Issuer").is_some_and(|i| full_text(i) != expected.idp_entity_id)
    {
        return Err(refused("The SAML response comes from another issuer."));
    }

    // The checks that matter run on the one tree the signature is verified on.
    let doc = dsig::parse(xml).map_err(|_| refused("The SAML response is not well-formed XML."))?;
    let root = doc
        .document_element()
        .ok_or_else(|| refused("The SAML response is empty."))?;
    let is_assertion = |d: &bergshamra_xml::uppsala::Document, n| {
        dsig::is(d, n, ASSERTION, "Assertion") || dsig::is(d, n, ASSERTION, "EncryptedAssertion")
    };
    // Exactly one (Encrypted)Assertion in the whole document, a child of the Response: what
    // defeats the wrapping shapes that hide a second assertion elsewhere.
    let everywhere = doc
        .descendants(doc.root())
        .into_iter()
        .filter(|n| is_assertion(&doc, *n))
        .count();
    let direct: Vec<_> = dsig::child_elements(&doc, root)
        .into_iter()
        .filter(|n| is_assertion(&doc, *n))
        .collect();
    let [assertion] = direct[..] else {
        return Err(refused(
            "The SAML response must hold exactly one assertion.",
        ));
    };
    if everywhere != 1 {
        return Err(refused(
            "The SAML response must hold exactly one assertion.",
        ));
    }
    let signed = |d: &bergshamra_xml::uppsala::Document, n| {
        dsig::child_elements(d, n)
            .iter()
            .any(|c| dsig::is(d, *c, DSIG, "Signature"))
    };
    let utf8 = |bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|_| refused("The SAML response is not UTF-8."))
    };
    // The response's signature covers everything in it, an encrypted assertion's ciphertext
    // included.
    let verified_response = if signed(&doc, root) {
        Some(utf8(
            dsig::verify_enveloped(&doc, root, keys.idp).map_err(signature_refused)?,
        )?)
    } else {
        None
    };
    // The assertion as verified bytes: read from nothing else.
    let assertion_xml = if dsig::is(&doc, assertion, ASSERTION, "EncryptedAssertion") {
        let opened = (|| -> Result<String, Refused> {
            let key = keys.decryption.ok_or_else(|| {
                refused(
                "The assertion is encrypted, but this provider does not want encrypted responses.",
            )
            })?;
            let plain = match &verified_response {
                Some(verified) => {
                    let again = dsig::parse(verified)
                        .map_err(|_| refused("The SAML response is not well-formed XML."))?;
                    let again_root = again
                        .document_element()
                        .ok_or_else(|| refused("The SAML response is empty."))?;
                    let encrypted = dsig::child_elements(&again, again_root)
                        .into_iter()
                        .find(|n| dsig::is(&again, *n, ASSERTION, "EncryptedAssertion"))
                        .ok_or_else(|| {
                            refused("The SAML response must hold exactly one assertion.")
                        })?;
                    dsig::decrypt_assertion(&again, encrypted, key)
                }
                None => dsig::decrypt_assertion(&doc, assertion, key),
            }
            .map_err(|detail| {
                tracing::info!(%detail, "SAML assertion not decrypted");
                refused("The encrypted assertion could not be decrypted.")
            })?;
            let plain_doc = dsig::parse(&plain)
                .map_err(|_| refused("The decrypted assertion is not well-formed XML."))?;
            let plain_root = plain_doc
                .document_element()
                .ok_or_else(|| refused("The decrypted assertion is empty."))?;
            if !dsig::is(&plain_doc, plain_root, ASSERTION, "Assertion")
                || plain_doc
                    .descendants(plain_root)
                    .into_iter()
                    .any(|n| n != plain_root && dsig::is(&plain_doc, n, ASSERTION, "Assertion"))
            {
                return Err(refused("The decrypted content is not one assertion."));
            }
            if signed(&plain_doc, plain_root) {
                utf8(
                    dsig::verify_enveloped(&plain_doc, plain_root, keys.idp)
                        .map_err(signature_refused)?,
                )
            } else if verified_response.is_some() {
                utf8(dsig::exc_c14n(&plain_doc, plain_root, None, &[]).map_err(signature_refused)?)
            } else {
                Err(refused("The SAML response is not signed."))
            }
        })();
        // Until a signature has vouched for the ciphertext, every failure reads the same, so
        // that the answers cannot serve as a decryption oracle (Jager and Somorovsky's attack
        // on XML Encryption changes the ciphertext and watches the error).
        match (opened, &verified_response) {
            (Ok(xml), _) => xml,
            (Err(refusal), Some(_)) => return Err(refusal),
            (Err(refusal), None) => {
                tracing::info!(reason = %refusal, "unsigned encrypted SAML response refused");
                return Err(refused("The SAML response could not be processed."));
            }
        }
    } else {
        if expected.encrypted {
            return Err(refused(
                "The identity provider must encrypt its assertions.",
            ));
        }
        if signed(&doc, assertion) {
            utf8(dsig::verify_enveloped(&doc, assertion, keys.idp).map_err(signature_refused)?)?
        } else {
            verified_response
                .clone()
                .ok_or_else(|| refused("The SAML response is not signed."))?
        }
    };
    let verified = Document::parse(&assertion_xml)
        .map_err(|_| refused("The verified assertion is not well-formed XML."))?;
    let top = verified.root_element();
    let found = if top.has_tag_name((ASSERTION, "Assertion")) {
        top
    } else {
        let inside: Vec<_> = children(top, ASSERTION, "Assertion").collect();
        let [only] = inside[..] else {
            return Err(refused(
                "The SAML response must hold exactly one assertion.",
            ));
        };
        only
    };
    read_assertion(found, expected)
}

fn read_assertion(
    assertion: Node<'_, '_>,
    expected: &Expectation<'_>,
) -> Result<SamlIdentity, Refused> {
    let now = expected.now;
    let assertion_id = assertion
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| refused("The assertion has no ID."))?
        .to_owned();
    let issuer = child(assertion, ASSERTION, "Issuer").map(full_text);
    if issuer.as_deref() != Some(expected.idp_entity_id) {
        return Err(refused("The assertion comes from another issuer."));
    }
    let conditions = child(assertion, ASSERTION, "Conditions");
    let mut not_on_or_after = now + UNSOLICITED_WINDOW;
    if let Some(conditions) = conditions {
        if let Some(before) = attribute_time(conditions, "NotBefore")? {
            if before > now + CLOCK_SKEW {
                return Err(refused("The assertion is not valid yet."));
            }
        }
        if let Some(after) = attribute_time(conditions, "NotOnOrAfter")? {
            if now >= after + CLOCK_SKEW {
                return Err(refused("The assertion has expired."));
            }
            not_on_or_after = after + CLOCK_SKEW;
        }
        for restriction in children(conditions, ASSERTION, "AudienceRestriction") {
            if !children(restriction, ASSERTION, "Audience")
                .any(|a| full_text(a) == expected.sp_entity_id)
            {
                return Err(refused("The assertion is for another audience."));
            }
        }
    }
    if !conditions.is_some_and(|c| {
        children(c, ASSERTION, "AudienceRestriction")
            .next()
            .is_some()
    }) {
        return Err(refused("The assertion names no audience."));
    }
    let issued = attribute_time(assertion, "IssueInstant")?
        .ok_or_else(|| refused("The assertion has no IssueInstant."))?;
    if issued > now + CLOCK_SKEW {
        return Err(refused("The assertion was issued in the future."));
    }
    let subject = child(assertion, ASSERTION, "Subject")
        .ok_or_else(|| refused("The assertion has no subject."))?;
    let name_id = child(subject, ASSERTION, "NameID")
        .map(full_text)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| refused("The assertion has no NameID."))?;
    let bearer = children(subject, ASSERTION, "SubjectConfirmation")
        .find(|c| c.attribute("Method") == Some(BEARER))
        .and_then(|c| child(c, ASSERTION, "SubjectConfirmationData"))
        .ok_or_else(|| refused("The assertion has no bearer subject confirmation."))?;
    if bearer.attribute("Recipient") != Some(expected.acs_url) {
        return Err(refused("The assertion is for another recipient."));
    }
    match attribute_time(bearer, "NotOnOrAfter")? {
        Some(after) if now < after + CLOCK_SKEW => {
            not_on_or_after = not_on_or_after.max(after + CLOCK_SKEW);
        }
        Some(_) => return Err(refused("The assertion has expired.")),
        None => return Err(refused("The subject confirmation has no NotOnOrAfter.")),
    }
    match (expected.in_response_to, bearer.attribute("InResponseTo")) {
        (Some(sent), Some(answered)) if sent == answered => {}
        (Some(_), _) => {
            return Err(refused(
                "The assertion does not answer the sign-in request.",
            ))
        }
        (None, Some(_)) => {
            return Err(refused(
                "An IdP-initiated assertion must not answer a request.",
            ))
        }
        (None, None) => {
            if now.duration_since(issued).unwrap_or_default() > UNSOLICITED_WINDOW {
                return Err(refused(
                    "The IdP-initiated assertion was issued more than six minutes ago.",
                ));
            }
        }
    }
    let session_index = child(assertion, ASSERTION, "AuthnStatement")
        .and_then(|s| s.attribute("SessionIndex"))
        .map(String::from);
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in children(assertion, ASSERTION, "AttributeStatement") {
        for attribute in children(statement, ASSERTION, "Attribute") {
            let Some(name) = attribute.attribute("Name") else {
                continue;
            };
            let values = children(attribute, ASSERTION, "AttributeValue").map(full_text);
            attributes
                .entry(name.to_owned())
                .or_default()
                .extend(values);
        }
    }
    Ok(SamlIdentity {
        assertion_id,
        name_id,
        session_index,
        attributes,
        not_on_or_after,
    })
}

/// Checks a LogoutResponse: signed by the IdP (an enveloped signature over the whole
/// response, verified as a response's is), from the IdP, answering `request_id`, Success.
pub fn check_logout_response(
    xml: &str,
    request_id: &str,
    idp_entity_id: &str,
    idp_keys: &[Vec<u8>],
) -> Result<(), Refused> {
    use super::xml_signature as dsig;
    let doc =
        dsig::parse(xml).map_err(|_| refused("The LogoutResponse is not well-formed XML."))?;
    let root = doc
        .document_element()
        .ok_or_else(|| refused("The LogoutResponse is empty."))?;
    if !dsig::is(&doc, root, PROTOCOL, "LogoutResponse") {
        return Err(refused("The message is not a LogoutResponse."));
    }
    let verified = dsig::verify_enveloped(&doc, root, idp_keys).map_err(signature_refused)?;
    let verified =
        String::from_utf8(verified).map_err(|_| refused("The LogoutResponse is not UTF-8."))?;
    let document = Document::parse(&verified)
        .map_err(|_| refused("The LogoutResponse is not well-formed XML."))?;
    let response = document.root_element();
    if response.attribute("InResponseTo") != Some(request_id) {
        return Err(refused(
            "The LogoutResponse does not answer the LogoutRequest.",
        ));
    }
    if child(response, ASSERTION, "Issuer")
        .map(full_text)
        .as_deref()
        != Some(idp_entity_id)
    {
        return Err(refused("The LogoutResponse comes from another issuer."));
    }
    let status = child(response, PROTOCOL, "Status")
        .and_then(|s| child(s, PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"));
    if status != Some(SUCCESS) {
        return Err(refused("The identity provider did not sign the user out."));
    }
    Ok(())
}
