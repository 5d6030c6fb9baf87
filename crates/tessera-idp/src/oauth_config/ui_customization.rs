//! SetUICustomization and GetUICustomization (the classic hosted UI's CSS and logo), and
//! the routes that serve them: `/{poolId}/ui/{clientId|ALL}/logo` and
//! `/{poolId}/ui/{clientId|ALL}/{CSSVersion}.css`.
//!
//! The pool's default is stored under the client id `ALL`; a client with a setting of its
//! own does not fall back to it. Customer CSS ends up in pages that show passwords, so it is
//! checked before it is stored: only rules for Cognito's `.…-customizable` classes, no
//! at-rules, no `url(`, no script, no markup. Logos are PNG or JPEG (never SVG, which can
//! carry script), recognised by their bytes and served with that type and `nosniff`.

use base64::Engine;
use serde_json::{json, Value};
use tessera_store::UiCustomization;

use crate::input::{epoch_seconds, Input};
use crate::oauth_config::domain::compact_timestamp;
use crate::pool::user_pool;
use crate::{Error, Service};

/// The client id of the pool's default customization.
const ALL: &str = "ALL";

/// Cognito's documented limit for the logo (the model allows 128 KiB).
const MAX_IMAGE_BYTES: usize = 100 * 1024;

/// The classes the classic hosted UI lets customers style, with the pseudo-classes each
/// allows.
const CUSTOMIZABLE: &[(&str, &[&str])] = &[
    ("background-customizable", &[]),
    ("banner-customizable", &[]),
    ("errorMessage-customizable", &[]),
    ("idpButton-customizable", &["hover"]),
    ("inputField-customizable", &["focus"]),
    ("label-customizable", &[]),
    ("legalText-customizable", &[]),
    ("logo-customizable", &[]),
    ("submitButton-customizable", &["hover"]),
    ("textDescription-customizable", &[]),
];

/// Text that has no place in customer CSS, wherever it appears: at-rules (`@import`,
/// `@media`, `@font-face` …), anything that loads a resource or runs script, markup that
/// could close the `<style>` context, and escapes that could spell any of these.
const FORBIDDEN: &[&str] = &[
    "@",
    "url(",
    "image-set(",
    "expression(",
    "javascript:",
    "behavior",
    "-moz-binding",
    "<",
    "\\",
];

fn invalid_css(reason: impl std::fmt::Display) -> Error {
    Error::invalid_parameter(format!("The CSS is not valid: {reason}."))
}

/// Checks customer CSS: a sequence of `selectors { declarations }` rules whose selectors are
/// customizable classes, with nothing from [`FORBIDDEN`].
fn check_css(css: &str) -> Result<(), Error> {
    let lower = css.to_ascii_lowercase();
    if let Some(bad) = FORBIDDEN.iter().find(|bad| lower.contains(**bad)) {
        return Err(invalid_css(format_args!("{bad} is not allowed")));
    }
    let text = strip_comments(css)?;
    let mut rest = text.as_str();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(());
        }
        let open = rest
            .find('{')
            .ok_or_else(|| invalid_css("a rule has no declaration block"))?;
        let (selectors, after) = rest.split_at(open);
        let after = &after[1..];
        let close = after
            .find('}')
            .ok_or_else(|| invalid_css("a declaration block is not closed"))?;
        let (block, next) = after.split_at(close);
        if selectors.contains('}') || block.contains('{') {
            return Err(invalid_css("braces are unbalanced or nested"));
        }
        for selector in selectors.split(',') {
            check_selector(selector.trim())?;
        }
        for declaration in block.split(';') {
            let declaration = declaration.trim();
            if declaration.is_empty() {
                continue;
            }
            let (property, value) = declaration.split_once(':').ok_or_else(|| {
                invalid_css(format_args!(
                    "{} is not a declaration",
                    tessera_core::excerpt(declaration)
                ))
            })?;
            let property = property.trim();
            if property.is_empty()
                || !property
                    .chars()
                    .all(|c| c.is_ascii_alphabetic() || c == '-')
                || value.trim().is_empty()
            {
                return Err(invalid_css(format_args!(
                    "{} is not a declaration",
                    tessera_core::excerpt(declaration)
                )));
            }
        }
        rest = &next[1..];
    }
}

fn check_selector(selector: &str) -> Result<(), Error> {
    let allowed = selector.strip_prefix('.').and_then(|rest| {
        let (class, pseudo) = match rest.split_once(':') {
            Some((class, pseudo)) => (class, Some(pseudo)),
            None => (rest, None),
        };
        let (_, pseudos) = CUSTOMIZABLE.iter().find(|(name, _)| *name == class)?;
        pseudo.is_none_or(|p| pseudos.contains(&p)).then_some(())
    });
    allowed.ok_or_else(|| {
        invalid_css(format_args!(
            "the selector {} is not one of the customizable classes",
            tessera_core::excerpt(selector)
        ))
    })
}

/// The CSS with its comments replaced by spaces, as a CSS parser reads them.
fn strip_comments(css: &str) -> Result<String, Error> {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("/*") {
        out.push_str(&rest[..start]);
        out.push(' ');
        let end = rest[start + 2..]
            .find("*/")
            .ok_or_else(|| invalid_css("a comment is not closed"))?;
        rest = &rest[start + 2 + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The content type of a PNG or JPEG image, from its first bytes.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// The client a request names (`ALL` when it names none), checked to exist in the pool.
async fn client_of(state: &Service, pool_id: &str, input: &Input) -> Result<String, Error> {
    match input.str("ClientId") {
        None | Some(ALL) => Ok(ALL.to_owned()),
        Some(client_id) => match state.store.app_client(client_id).await? {
            Some(client) if client.user_pool_id == pool_id => Ok(client.client_id),
            _ => Err(Error::client_not_found(client_id)),
        },
    }
}

fn asset_url(state: &Service, ui: &UiCustomization, asset: &str) -> String {
    format!(
        "{}/{}/ui/{}/{asset}",
        state.config.public_url, ui.pool_id, ui.client_id
    )
}

fn ui_customization_type(state: &Service, ui: &UiCustomization) -> Value {
    let mut out = json!({
        "UserPoolId": ui.pool_id,
        "ClientId": ui.client_id,
        "CSSVersion": ui.css_version,
        "CreationDate": epoch_seconds(ui.created_at),
        "LastModifiedDate": epoch_seconds(ui.modified_at),
    });
    if ui.image.is_some() {
        out["ImageUrl"] = json!(asset_url(state, ui, "logo"));
    }
    if let Some(css) = &ui.css {
        out["CSS"] = json!(css);
    }
    out
}

pub async fn set(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let client_id = client_of(state, &pool.id, &input).await?;
    if state.store.domains_of_pool(&pool.id).await?.is_empty() {
        return Err(Error::invalid_parameter(
            "Cannot perform specific action because there does not exist a valid user pool domain",
        ));
    }
    let css = input.str("CSS").map(String::from);
    if let Some(css) = &css {
        check_css(css)?;
    }
    // The model has already checked that the blob is base64.
    let image = input
        .str("ImageFile")
        .map(|text| base64::engine::general_purpose::STANDARD.decode(text))
        .transpose()
        .map_err(|_| Error::invalid_parameter("The image file is not valid base64."))?
        .filter(|bytes| !bytes.is_empty());
    let image_type = match &image {
        Some(bytes) => {
            if bytes.len() > MAX_IMAGE_BYTES {
                return Err(Error::invalid_parameter(
                    "The image file is larger than 100 KB.",
                ));
            }
            Some(image_type(bytes).ok_or_else(|| {
                Error::invalid_parameter("The image file must be a PNG or JPEG image.")
            })?)
        }
        None => None,
    };
    let now = state.clock.now();
    // Set replaces the whole customization; only its creation time survives.
    let created_at = state
        .store
        .ui_customization(&pool.id, &client_id)
        .await?
        .map_or(now, |earlier| earlier.created_at);
    let ui = UiCustomization {
        pool_id: pool.id.clone(),
        client_id,
        css,
        image,
        image_type: image_type.map(String::from),
        css_version: compact_timestamp(now),
        created_at,
        modified_at: now,
    };
    state.store.put_ui_customization(&ui).await?;
    Ok(json!({ "UICustomization": ui_customization_type(state, &ui) }))
}

pub async fn get(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let client_id = client_of(state, &pool.id, &input).await?;
    let mut found = state.store.ui_customization(&pool.id, &client_id).await?;
    if found.is_none() && client_id != ALL {
        found = state.store.ui_customization(&pool.id, ALL).await?;
    }
    Ok(json!({
        "UICustomization": match found {
            Some(ui) => ui_customization_type(state, &ui),
            None => json!({ "UserPoolId": pool.id, "ClientId": client_id }),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::{check_css, image_type};

    #[test]
    fn customizable_classes_are_the_only_css_accepted() {
        for good in [
            "",
            ".banner-customizable { background-color: #123456; }",
            "/* brand */ .submitButton-customizable:hover, .idpButton-customizable:hover {\n color: white; font-family: \"Open Sans\", sans-serif }\n.inputField-customizable:focus{border-color:red;}",
        ] {
            assert!(check_css(good).is_ok(), "{good}");
        }
        for bad in [
            "@import 'x.css';",
            "@media (max-width: 1px) { .banner-customizable { color: red } }",
            ".banner-customizable { background: url(https://evil.example/x.png) }",
            ".banner-customizable { width: expression(alert(1)) }",
            ".banner-customizable { background: javascript:alert(1) }",
            "</style><script>alert(1)</script>",
            ".banner-customizable { color: \\72 ed }",
            "body { color: red }",
            ".banner-customizable:focus { color: red }",
            ".banner-customizable .label-customizable { color: red }",
            ".banner-customizable { color: red",
            ".banner-customizable { .label-customizable { color: red } }",
            ".banner-customizable { color }",
            "/* never closed .banner-customizable { color: red }",
            "u/**/rl(x) .banner-customizable { color: red }",
        ] {
            assert!(check_css(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_png_and_jpeg_are_images() {
        assert_eq!(
            image_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(
            image_type(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            None
        );
        assert_eq!(image_type(b"GIF89a"), None);
    }
}
