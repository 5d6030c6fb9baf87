//! Masking a destination for `CodeDeliveryDetails.Destination`, so that a client learns where a
//! code went without learning the whole address.

use super::Channel;

/// What an input with nothing worth keeping is masked as, so that a masked destination is never
/// empty and never the input itself.
const HIDDEN: &str = "***";

/// How many trailing digits of a phone number stay visible, as in Cognito.
const VISIBLE_PHONE_DIGITS: usize = 4;

/// Masks a destination as Cognito's `CodeDeliveryDetails.Destination` does.
///
/// - E-mail: the first character of the local part and of the domain, each followed by `***`:
///   `jane.doe@example.com` becomes `j***@e***`. The domain is what follows the last `@`. Without
///   an `@` the whole input is treated as a local part (`jane` becomes `j***`); an empty part
///   becomes `***`.
/// - Phone: a leading `+` is kept, every digit but the last four becomes `*`, and anything that
///   is not a digit is dropped: `+15555550123` becomes `+*******0123`. A number with four digits
///   or fewer is hidden entirely, because showing its last four digits would show all of it;
///   input without any digit becomes `***`.
pub fn mask_destination(channel: Channel, destination: &str) -> String {
    match channel {
        Channel::Email => mask_email(destination),
        Channel::Sms => mask_phone(destination),
    }
}

fn mask_email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{}", mask_part(local), mask_part(domain)),
        None => mask_part(address),
    }
}

fn mask_part(part: &str) -> String {
    match part.chars().next() {
        Some(first) => format!("{first}{HIDDEN}"),
        None => HIDDEN.to_owned(),
    }
}

fn mask_phone(number: &str) -> String {
    let trimmed = number.trim();
    let plus = if trimmed.starts_with('+') { "+" } else { "" };
    let digits: Vec<char> = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return HIDDEN.to_owned();
    }
    let visible = if digits.len() > VISIBLE_PHONE_DIGITS {
        VISIBLE_PHONE_DIGITS
    } else {
        0
    };
    let hidden = digits.len() - visible;
    let mut masked = String::with_capacity(plus.len() + digits.len());
    masked.push_str(plus);
    masked.extend(std::iter::repeat_n('*', hidden));
    masked.extend(digits.iter().skip(hidden));
    masked
}
