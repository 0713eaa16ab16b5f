//! Typed readings of oslo.config string values: booleans, lists, ports, integers. No I/O.
//!
//! Each parser returns the plain-words reason on failure; the caller adds file, section and
//! option, so that every message names all four.

use std::time::Duration;

/// Words oslo.config's `Boolean` type accepts, for the error message.
pub const BOOL_WORDS: &str = "true/false, yes/no, on/off, 1/0 (any case)";

/// oslo.config `Boolean`.
///
/// # Errors
/// Anything but the accepted words.
pub fn parse_bool(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!(
            "{value:?} is not a boolean; accepted values: {BOOL_WORDS}"
        )),
    }
}

/// oslo.config `List`: comma separated, items trimmed, empty items dropped. Continuation lines
/// count as separators too, since people break long lists over lines.
pub fn parse_list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// oslo.config `Port`: 0 to 65535.
///
/// # Errors
/// Not a number, or out of range.
pub fn parse_port(value: &str) -> Result<u16, String> {
    value
        .trim()
        .parse::<u16>()
        .map_err(|_| format!("{value:?} is not a port number; accepted values: 0 to 65535"))
}

/// oslo.config `Integer` with a lower bound.
///
/// # Errors
/// Not a whole number, or below `min`.
pub fn parse_integer(value: &str, min: u64) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(number) if number >= min => Ok(number),
        _ => Err(format!(
            "{value:?} is not a whole number; accepted values: {min} or more"
        )),
    }
}

/// A number of seconds, fractions allowed, as a [`Duration`].
///
/// # Errors
/// Not a number, negative, or over a day (a typo, not a setting).
pub fn parse_seconds(value: &str) -> Result<Duration, String> {
    const DAY: f64 = 86_400.0;
    match value.trim().parse::<f64>() {
        Ok(seconds) if (0.0..=DAY).contains(&seconds) => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!(
            "{value:?} is not a number of seconds; accepted values: 0 to 86400"
        )),
    }
}

/// One of a fixed set of words, compared without case.
///
/// # Errors
/// Anything else; the message lists the choices.
pub fn parse_choice<'a>(value: &str, choices: &[&'a str]) -> Result<&'a str, String> {
    let wanted = value.trim().to_ascii_lowercase();
    choices
        .iter()
        .find(|choice| **choice == wanted)
        .copied()
        .ok_or_else(|| {
            format!(
                "{value:?} is not allowed; accepted values: {}",
                choices.join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_oslo_reads_them() {
        for word in ["True", "true", "YES", "on", "1"] {
            assert_eq!(parse_bool(word), Ok(true), "{word}");
        }
        for word in ["False", "no", "OFF", "0"] {
            assert_eq!(parse_bool(word), Ok(false), "{word}");
        }
        for word in ["", "2", "truthy", "y"] {
            let error = parse_bool(word).err().unwrap_or_default();
            assert!(error.contains("accepted values"), "{word}: {error}");
        }
    }

    #[test]
    fn lists_split_on_commas_and_lines() {
        assert_eq!(parse_list("vencrypt, none"), vec!["vencrypt", "none"]);
        assert_eq!(parse_list(" a,,b ,\nc"), vec!["a", "b", "c"]);
        assert!(parse_list("").is_empty());
    }

    #[test]
    fn numbers_and_bounds() {
        assert_eq!(parse_port("6080"), Ok(6080));
        assert!(parse_port("65536").is_err());
        assert!(parse_port("-1").is_err());
        assert_eq!(parse_integer("600", 0), Ok(600));
        assert!(parse_integer("0", 1).is_err());
        assert!(parse_integer("1.5", 0).is_err());
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("1e9").is_err());
        assert!(parse_seconds("NaN").is_err());
    }

    #[test]
    fn choices_ignore_case_and_list_themselves() {
        assert_eq!(
            parse_choice("TLSv1_2", &["default", "tlsv1_2"]),
            Ok("tlsv1_2")
        );
        let error = parse_choice("ssl3", &["default", "tlsv1_2"])
            .err()
            .unwrap_or_default();
        assert!(error.contains("default, tlsv1_2"), "{error}");
    }
}
