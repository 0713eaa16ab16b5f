//! Typed readings of oslo.config string values: booleans, lists, ports, integers, and
//! vncgate's own: scheme lists, networks, URLs, cipher names. No I/O.
//!
//! Each parser returns the plain-words reason on failure; the caller adds file, section and
//! option, so that every message names all four.

use std::time::Duration;

use ipnet::IpNet;

use crate::console::AuthScheme;

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

/// `auth_schemes`: scheme names, in order, without repeats.
pub(super) fn parse_schemes(text: &str) -> Result<Vec<AuthScheme>, String> {
    let names = parse_list(text);
    if names.is_empty() {
        return Err(format!(
            "must name at least one scheme; accepted values: {}",
            AuthScheme::NAMES.join(", ")
        ));
    }
    let mut schemes = Vec::new();
    for name in names {
        let scheme = AuthScheme::from_name(&name).ok_or_else(|| {
            format!(
                "{name:?} is not a scheme; accepted values: {}",
                AuthScheme::NAMES.join(", ")
            )
        })?;
        if !schemes.contains(&scheme) {
            schemes.push(scheme);
        }
    }
    Ok(schemes)
}

/// A list of networks: CIDRs, or single addresses (a /32 or /128).
pub(super) fn parse_networks(text: &str) -> Result<Vec<IpNet>, String> {
    parse_list(text)
        .iter()
        .map(|item| parse_network(item))
        .collect()
}

pub(super) fn parse_network(item: &str) -> Result<IpNet, String> {
    let item = item.trim();
    item.parse::<IpNet>()
        .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!("{item:?} is not a network; accepted values: CIDRs such as 10.0.0.0/8 or 2001:db8::/32, or addresses")
        })
}

/// `CIDR=scheme+scheme, CIDR=scheme`: `auth_schemes` per console server network.
pub(super) fn parse_by_network(text: &str) -> Result<Vec<(IpNet, Vec<AuthScheme>)>, String> {
    parse_list(text)
        .iter()
        .map(|entry| {
            let (network, schemes) = entry.split_once('=').ok_or_else(|| {
                format!("{entry:?} is not CIDR=schemes; e.g. 10.0.0.0/8=vencrypt or 192.0.2.0/24=vencrypt+vnc")
            })?;
            let schemes = parse_schemes(&schemes.replace('+', ","))?;
            Ok((parse_network(network)?, schemes))
        })
        .collect()
}

/// Scheme names joined as `auth_schemes` writes them.
pub(super) fn names(schemes: &[AuthScheme]) -> String {
    schemes
        .iter()
        .map(|scheme| scheme.name())
        .collect::<Vec<_>>()
        .join(",")
}

/// An http(s) URL with a host.
pub(super) fn parse_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
        .ok_or_else(|| {
            format!("{text:?} is not a URL; accepted values: http://... or https://...")
        })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{text:?} has no host"));
    }
    Ok(text.to_owned())
}

/// `ssl_ciphers` is an OpenSSL cipher string. Plain suite names can be honoured; an OpenSSL
/// expression (`HIGH:!aNULL`, `kEECDH+AES`) cannot, and is left to rustls' defaults, which are
/// already only AEAD suites with forward secrecy.
pub(super) fn cipher_names(text: &str) -> Option<Vec<String>> {
    let names = text
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let expression = names.iter().any(|name| {
        name.contains(['+', '!', '@'])
            || name.starts_with('-')
            || name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    (!names.is_empty() && !expression).then_some(names)
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
