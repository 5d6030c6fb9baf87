//! Rendering Cognito message templates.

/// The placeholder for the code or temporary password.
const CODE: &str = "{####}";

/// The placeholder for the username, used by invitation templates.
const USERNAME: &str = "{username}";

/// Renders a Cognito template: replaces every `{####}` with the code and every `{username}` with
/// the username. Without a username, `{username}` is left as written, as Cognito does for the
/// templates that do not offer it.
///
/// The template is scanned once, so a substituted value is never scanned again: a temporary
/// password that happens to contain `{username}`, or a username containing `{####}`, comes out
/// exactly as given.
pub fn render(template: &str, code: &str, username: Option<&str>) -> String {
    let mut rendered = String::with_capacity(template.len() + code.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let (before, from_brace) = rest.split_at(start);
        rendered.push_str(before);
        if let Some(after) = from_brace.strip_prefix(CODE) {
            rendered.push_str(code);
            rest = after;
        } else if let (Some(after), Some(name)) = (from_brace.strip_prefix(USERNAME), username) {
            rendered.push_str(name);
            rest = after;
        } else {
            rendered.push('{');
            rest = from_brace.get(1..).unwrap_or_default();
        }
    }
    rendered.push_str(rest);
    rendered
}
