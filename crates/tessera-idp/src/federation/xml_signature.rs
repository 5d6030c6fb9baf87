//! XML Signature (enveloped, over a SAML Response or Assertion) and XML Encryption (an
//! EncryptedAssertion), as strict as tessera's SAML service provider needs and no more.
//!
//! Why our own code over bergshamra's canonicalization rather than a complete XML-DSig
//! library: the complete libraries check that *a* signature in the document is valid, and
//! run whatever transforms and references the document asks for (XPath, XSLT, relative
//! URIs); which element was signed is then left to the caller, which is how signature
//! wrapping happens. Here exactly one shape is accepted: one `ds:Signature`, a direct child of
//! the element it signs, one Reference to that element's own `#ID`, the transforms
//! enveloped-signature then exclusive C14N, RSA with SHA-256 or SHA-512 and a key from the
//! IdP's metadata (never from `KeyInfo`). [`verify_enveloped`] returns the canonical bytes it
//! digested, and the SAML layer reads only those. Canonicalization is bergshamra-c14n's
//! (checked byte for byte against libxml2's); RSA, digests, OAEP and AES are aws-lc-rs's.
//!
//! SHA-1 signatures and digests are refused, as is RSA-1_5 key transport.

//! SAML-profile XML-DSig verification and XML-Enc decryption.
//!
//! Parsing + exclusive C14N: uppsala / bergshamra-c14n (pure Rust). Crypto: aws-lc-rs.
//! Only the one profile SAML IdPs use is accepted:
//!   ds:Signature = SignedInfo, SignatureValue, KeyInfo? (no Object);
//!   SignedInfo  = CanonicalizationMethod(exc-c14n), SignatureMethod(rsa-sha256|rsa-sha512|rsa-sha1?),
//!                 exactly one Reference URI="#<ID of the signature's parent>";
//!   Transforms  = enveloped-signature, exc-c14n (InclusiveNamespaces PrefixList allowed);
//!   DigestMethod sha256|sha512|sha1.
//! KeyInfo is ignored: only the IdP certificates from metadata are tried.
use aws_lc_rs::{aead, cipher, constant_time, digest, rsa, signature};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use bergshamra_c14n::{canonicalize_doc, C14nMode};
use bergshamra_xml::uppsala::{self, Document, NodeId};
use bergshamra_xml::NodeSet;

pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

pub type Error = String;

/// Policy knob: accept RSA-SHA1 / SHA-1 digests (legacy IdPs, e.g. old ADFS) or not.
pub const ALLOW_SHA1: bool = false;

/// Parse untrusted XML: any DOCTYPE is refused (no DTD, no entities).
pub fn parse(xml: &str) -> Result<Document<'_>, Error> {
    uppsala::Parser::new()
        .with_forbid_dtd(true)
        .parse(xml)
        .map_err(|e| format!("malformed XML: {e}"))
}

pub fn is(doc: &Document, id: NodeId, ns: &str, local: &str) -> bool {
    doc.element(id)
        .is_some_and(|e| e.matches_name_ns(ns, local))
}

pub fn child_elements(doc: &Document, id: NodeId) -> Vec<NodeId> {
    doc.children(id)
        .into_iter()
        .filter(|c| doc.element(*c).is_some())
        .collect()
}

/// An attribute without namespace (ID, URI, Algorithm, ...).
pub fn attr<'d>(doc: &'d Document, id: NodeId, name: &str) -> Option<&'d str> {
    doc.element(id)?
        .attributes
        .iter()
        .find(|a| a.name.namespace_uri.is_none() && a.name.local_name == name)
        .map(|a| &*a.value)
}

fn b64_text(doc: &Document, id: NodeId) -> Result<Vec<u8>, Error> {
    let text: String = doc
        .text_content_deep(id)
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    B64.decode(text).map_err(|e| format!("bad base64: {e}"))
}

fn no_children(doc: &Document, id: NodeId) -> Result<(), Error> {
    if child_elements(doc, id).is_empty() {
        Ok(())
    } else {
        Err("unexpected child element".into())
    }
}

/// Algorithm must be exc-c14n (never #WithComments); returns the InclusiveNamespaces PrefixList.
fn exc_c14n_prefixes(doc: &Document, method: NodeId) -> Result<Vec<String>, Error> {
    if attr(doc, method, "Algorithm") != Some(EXC_C14N) {
        return Err(format!(
            "canonicalization {:?} refused",
            attr(doc, method, "Algorithm")
        ));
    }
    match child_elements(doc, method).as_slice() {
        [] => Ok(Vec::new()),
        [inc] if is(doc, *inc, EXC_C14N, "InclusiveNamespaces") => {
            Ok(attr(doc, *inc, "PrefixList")
                .unwrap_or("")
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect())
        }
        _ => Err("unexpected child of a c14n method".into()),
    }
}

/// `doc`'s subtree at `id` minus `exclude`'s subtree, comments excluded, exclusive C14N.
pub fn exc_c14n(
    doc: &Document,
    id: NodeId,
    exclude: Option<NodeId>,
    prefixes: &[String],
) -> Result<Vec<u8>, Error> {
    let mut set = NodeSet::tree_without_comments(id, doc);
    if let Some(sig) = exclude {
        let mut stack = vec![sig];
        while let Some(n) = stack.pop() {
            set.remove_id(n);
            stack.extend(doc.children(n));
        }
    }
    canonicalize_doc(doc, C14nMode::Exclusive, Some(&set), prefixes)
        .map_err(|e| format!("c14n: {e}"))
}

/// Verifies the enveloped ds:Signature that is a direct child of `target` with one of `idp_keys`
/// (PKCS#1 RSAPublicKey DER, from the metadata certificates). Returns the exclusive-C14N bytes
/// of `target` without its Signature: exactly the bytes whose digest was checked. Read the
/// SAML data from these bytes (re-parsed), never from the original document.
pub fn verify_enveloped(
    doc: &Document,
    target: NodeId,
    idp_keys: &[Vec<u8>],
) -> Result<Vec<u8>, Error> {
    let sigs: Vec<NodeId> = child_elements(doc, target)
        .into_iter()
        .filter(|c| is(doc, *c, DS, "Signature"))
        .collect();
    let [sig] = sigs[..] else {
        return Err(format!("{} ds:Signature children, need 1", sigs.len()));
    };
    let id = attr(doc, target, "ID")
        .filter(|v| !v.is_empty())
        .ok_or("signed element has no ID")?;

    let parts = child_elements(doc, sig);
    let ok = |i: usize, l: &str| parts.get(i).is_some_and(|n| is(doc, *n, DS, l));
    if !(ok(0, "SignedInfo")
        && ok(1, "SignatureValue")
        && (parts.len() == 2 || (parts.len() == 3 && ok(2, "KeyInfo"))))
    {
        return Err("ds:Signature must be SignedInfo, SignatureValue, KeyInfo?".into());
    }
    let (si, sv) = (parts[0], parts[1]);
    let [cm, sm, r] = child_elements(doc, si)[..] else {
        return Err("SignedInfo needs exactly one Reference".into());
    };
    if !(is(doc, cm, DS, "CanonicalizationMethod")
        && is(doc, sm, DS, "SignatureMethod")
        && is(doc, r, DS, "Reference"))
    {
        return Err("malformed SignedInfo".into());
    }
    let si_prefixes = exc_c14n_prefixes(doc, cm)?;
    no_children(doc, sm)?; // no HMACOutputLength & co.
    let sig_alg: &'static signature::RsaParameters = match attr(doc, sm, "Algorithm").unwrap_or("")
    {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => {
            &signature::RSA_PKCS1_2048_8192_SHA512
        }
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" if ALLOW_SHA1 => {
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        other => return Err(format!("SignatureMethod {other} refused")),
    };

    // The one Reference must point at the very element we are verifying.
    if attr(doc, r, "URI").and_then(|u| u.strip_prefix('#')) != Some(id) {
        return Err("Reference URI is not #<ID of the signed element>".into());
    }
    let [tr, dm, dv] = child_elements(doc, r)[..] else {
        return Err("malformed Reference".into());
    };
    if !(is(doc, tr, DS, "Transforms")
        && is(doc, dm, DS, "DigestMethod")
        && is(doc, dv, DS, "DigestValue"))
    {
        return Err("malformed Reference".into());
    }
    let [t1, t2] = child_elements(doc, tr)[..] else {
        return Err("Transforms must be enveloped-signature, exc-c14n".into());
    };
    if !(is(doc, t1, DS, "Transform")
        && is(doc, t2, DS, "Transform")
        && attr(doc, t1, "Algorithm") == Some(ENVELOPED))
    {
        return Err("Transforms must be enveloped-signature, exc-c14n (no XPath/XSLT)".into());
    }
    // xml-crypto (node-saml, samlify) writes a meaningless InclusiveNamespaces into the
    // enveloped-signature transform when a prefix list is set: tolerate exactly that.
    if !child_elements(doc, t1).iter().all(|c| {
        doc.element(*c)
            .is_some_and(|e| e.name.local_name == "InclusiveNamespaces")
    }) {
        return Err("unexpected child of the enveloped-signature transform".into());
    }
    let ref_prefixes = exc_c14n_prefixes(doc, t2)?;
    no_children(doc, dm)?;
    let digest_alg: &'static digest::Algorithm = match attr(doc, dm, "Algorithm").unwrap_or("") {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &digest::SHA512,
        "http://www.w3.org/2000/09/xmldsig#sha1" if ALLOW_SHA1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        other => return Err(format!("DigestMethod {other} refused")),
    };

    // 1. Reference digest over target minus this Signature.
    let canonical = exc_c14n(doc, target, Some(sig), &ref_prefixes)?;
    let computed = digest::digest(digest_alg, &canonical);
    constant_time::verify_slices_are_equal(computed.as_ref(), &b64_text(doc, dv)?)
        .map_err(|_| "digest mismatch (content was altered)")?;

    // 2. SignatureValue over the canonical SignedInfo, with a metadata key only.
    let signed_info = exc_c14n(doc, si, None, &si_prefixes)?;
    let value = b64_text(doc, sv)?;
    if !idp_keys.iter().any(|k| {
        signature::UnparsedPublicKey::new(sig_alg, k)
            .verify(&signed_info, &value)
            .is_ok()
    }) {
        return Err("signature does not verify with any IdP certificate".into());
    }
    Ok(canonical)
}

/// RSA public key (PKCS#1 DER) of a base64/DER X.509 certificate.
pub fn rsa_key_of_cert(der: &[u8]) -> Result<Vec<u8>, Error> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("certificate: {e}"))?;
    let spki = cert.public_key();
    if spki.algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.1" {
        return Err("IdP certificate key is not RSA".into());
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// Decrypts a saml:EncryptedAssertion (xenc:EncryptedData [+ EncryptedKey inside its KeyInfo or
/// as a sibling]) with the SP's RSA private key (PKCS#8 DER). Returns the plaintext (the
/// saml:Assertion XML). Key transport: RSA-OAEP (mgf1p or xmlenc11 rsa-oaep with SHA-1 MGF, the
/// OAEP digest SHA-1 or, for xmlenc11 with matching MGF, SHA-256); rsa-1_5 refused.
/// Data: AES-128/256-GCM, AES-128/256-CBC.
pub fn decrypt_assertion(
    doc: &Document,
    enc_assertion: NodeId,
    sp_pkcs8: &[u8],
) -> Result<String, Error> {
    let kids = child_elements(doc, enc_assertion);
    let data: Vec<_> = kids
        .iter()
        .copied()
        .filter(|k| is(doc, *k, XENC, "EncryptedData"))
        .collect();
    let [ed] = data[..] else {
        return Err("EncryptedAssertion needs one xenc:EncryptedData".into());
    };
    let child = |parent: NodeId, ns: &str, l: &str| {
        child_elements(doc, parent)
            .into_iter()
            .find(|c| is(doc, *c, ns, l))
    };
    // EncryptedKey: in EncryptedData/ds:KeyInfo, else a sibling of EncryptedData.
    let ek = child(ed, DS, "KeyInfo")
        .and_then(|ki| child(ki, XENC, "EncryptedKey"))
        .or_else(|| {
            kids.iter()
                .copied()
                .find(|k| is(doc, *k, XENC, "EncryptedKey"))
        })
        .ok_or("no xenc:EncryptedKey")?;

    // --- key transport
    let ek_method =
        child(ek, XENC, "EncryptionMethod").ok_or("EncryptedKey without EncryptionMethod")?;
    let ek_alg = attr(doc, ek_method, "Algorithm").unwrap_or("");
    let oaep_digest = child(ek_method, DS, "DigestMethod").and_then(|d| attr(doc, d, "Algorithm"));
    let mgf = child(ek_method, XENC11, "MGF").and_then(|d| attr(doc, d, "Algorithm"));
    let oaep: &'static rsa::OaepAlgorithm = match (ek_alg, oaep_digest, mgf) {
        (
            a,
            None | Some("http://www.w3.org/2000/09/xmldsig#sha1"),
            None | Some("http://www.w3.org/2009/xmlenc11#mgf1sha1"),
        ) if a == "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
            || a == "http://www.w3.org/2009/xmlenc11#rsa-oaep" =>
        {
            &rsa::OAEP_SHA1_MGF1SHA1
        }
        (
            "http://www.w3.org/2009/xmlenc11#rsa-oaep",
            Some("http://www.w3.org/2001/04/xmlenc#sha256"),
            Some("http://www.w3.org/2009/xmlenc11#mgf1sha256"),
        ) => &rsa::OAEP_SHA256_MGF1SHA256,
        _ => {
            return Err(format!(
                "key transport {ek_alg} digest {oaep_digest:?} mgf {mgf:?} refused"
            ))
        }
    };
    if child(ek_method, XENC, "OAEPparams").is_some() {
        return Err("OAEPparams (label) not supported".into());
    }
    let ek_cipher = child(ek, XENC, "CipherData")
        .and_then(|cd| child(cd, XENC, "CipherValue"))
        .ok_or("no EncryptedKey CipherValue")?;
    let private = rsa::OaepPrivateDecryptingKey::new(
        rsa::PrivateDecryptingKey::from_pkcs8(sp_pkcs8).map_err(|e| format!("SP key: {e}"))?,
    )
    .map_err(|_| "SP key unusable for OAEP")?;
    let mut key_buf = vec![0u8; private.min_output_size()];
    let cek = private
        .decrypt(oaep, &b64_text(doc, ek_cipher)?, &mut key_buf, None)
        .map_err(|_| "cannot decrypt the assertion")?
        .to_vec();

    // --- data
    let ed_alg = child(ed, XENC, "EncryptionMethod")
        .and_then(|m| attr(doc, m, "Algorithm"))
        .unwrap_or("");
    let mut ct = b64_text(
        doc,
        child(ed, XENC, "CipherData")
            .and_then(|cd| child(cd, XENC, "CipherValue"))
            .ok_or("no CipherValue")?,
    )?;
    let generic = || -> Error { "cannot decrypt the assertion".into() }; // one error for every failure (no oracle)
    let plain: Vec<u8> = match ed_alg {
        "http://www.w3.org/2009/xmlenc11#aes128-gcm"
        | "http://www.w3.org/2009/xmlenc11#aes256-gcm" => {
            let alg = if ed_alg.ends_with("aes128-gcm") {
                &aead::AES_128_GCM
            } else {
                &aead::AES_256_GCM
            };
            if cek.len() != alg.key_len() || ct.len() < 12 + 16 {
                return Err(generic());
            }
            let key =
                aead::LessSafeKey::new(aead::UnboundKey::new(alg, &cek).map_err(|_| generic())?);
            let (iv, rest) = ct.split_at_mut(12);
            let nonce = aead::Nonce::try_assume_unique_for_key(iv).map_err(|_| generic())?;
            key.open_in_place(nonce, aead::Aad::empty(), rest)
                .map_err(|_| generic())?
                .to_vec()
        }
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
        | "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => {
            let (alg, klen) = if ed_alg.ends_with("aes128-cbc") {
                (&cipher::AES_128, 16)
            } else {
                (&cipher::AES_256, 32)
            };
            if cek.len() != klen || ct.len() < 32 || ct.len() % 16 != 0 {
                return Err(generic());
            }
            let key = cipher::DecryptingKey::cbc(
                cipher::UnboundCipherKey::new(alg, &cek).map_err(|_| generic())?,
            )
            .map_err(|_| generic())?;
            let (iv, rest) = ct.split_at_mut(16);
            let iv: [u8; 16] = iv.try_into().unwrap();
            let out = key
                .decrypt(rest, cipher::DecryptionContext::Iv128(iv.into()))
                .map_err(|_| generic())?;
            // XML-Enc padding (ISO 10126): last byte = pad length, other pad bytes arbitrary.
            let pad = *out.last().ok_or_else(generic)? as usize;
            if pad == 0 || pad > 16 {
                return Err(generic());
            }
            out[..out.len() - pad].to_vec()
        }
        other => return Err(format!("data encryption {other} refused")),
    };
    String::from_utf8(plain).map_err(|_| generic())
}
