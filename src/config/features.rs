//! The options of what vncgate adds to nova's proxies, typed: session recording and the token
//! sources beyond token files and nova's table.

use std::path::PathBuf;
use std::time::Duration;

use super::reader::{Exists, Reader};
use super::settings::Recording;
use super::table as t;
use crate::token::jwt::KeyError;

use super::value::{parse_bool, parse_choice, parse_integer, parse_list, parse_seconds};

/// `[vncgate] record`, `record_input`, `recording_*`.
pub(super) fn recording(reader: &mut Reader) -> Recording {
    let recipients: Vec<String> = reader.typed(&t::RECORDING_RECIPIENTS, |text| {
        let keys = parse_list(text);
        for key in &keys {
            if key.parse::<age::x25519::Recipient>().is_err() {
                return Err(format!(
                    "{key:?} is not an age X25519 public key; accepted values: age1…, as `age-keygen -y` prints"
                ));
            }
        }
        Ok(keys)
    });
    let all = reader.typed(&t::RECORD, |text| {
        parse_choice(text, &["none", "all"]).map(|word| word == "all")
    });
    let state_dir = PathBuf::from(reader.text(&t::STATE_DIR));
    let dir = reader
        .typed(&t::RECORDING_DIR, |text| {
            let text = text.trim();
            Ok((!text.is_empty()).then(|| PathBuf::from(text)))
        })
        .unwrap_or_else(|| state_dir.join("recordings"));
    if all && recipients.is_empty() {
        reader.warnings.push(
            "[vncgate] record = all and no recording_recipients: recordings are plain files \
             (0600) that anyone with root on this host can read; list age public keys"
                .into(),
        );
    }
    let days = reader.typed(&t::RECORDING_MAX_AGE_DAYS, |text| parse_integer(text, 0));
    let total = reader.typed(&t::RECORDING_MAX_TOTAL_BYTES, |text| parse_integer(text, 0));
    Recording {
        all,
        dir,
        max_age: (days > 0).then(|| Duration::from_secs(days.saturating_mul(86_400))),
        max_total_bytes: (total > 0).then_some(total),
        recipients,
        input: reader.typed(&t::RECORD_INPUT, parse_bool),
        required: reader.typed(&t::RECORDING_REQUIRED, parse_bool),
    }
}

/// `[vncgate] jwt_keys`, `jwe_keys`, `jwt_audience`, `jwt_leeway`, `jwt_require_exp`: `None`
/// without keys (or with keys that cannot be used, a problem then).
pub(super) fn jwt(reader: &mut Reader) -> Option<crate::token::jwt::JwtSettings> {
    let keys = reader.path(&t::JWT_KEYS, Exists::File);
    let jwe_keys = reader.path(&t::JWE_KEYS, Exists::File);
    let audience = reader.text(&t::JWT_AUDIENCE);
    let leeway = reader.typed(&t::JWT_LEEWAY, parse_seconds);
    let require_exp = reader.typed(&t::JWT_REQUIRE_EXP, parse_bool);
    if keys.is_none() && jwe_keys.is_none() {
        return None;
    }
    if let Err(error) = crate::token::jwt::check_keys(keys.as_deref(), jwe_keys.as_deref()) {
        // Named against the file the error is about.
        let spec = match &error {
            KeyError::Private(_) => &t::JWE_KEYS,
            _ if keys.is_none() => &t::JWE_KEYS,
            _ => &t::JWT_KEYS,
        };
        if let Some(at) = reader.find(spec) {
            reader.problem(&at, crate::chain::chain(&error).to_string());
        }
        return None;
    }
    if let Some(path) = &jwe_keys {
        readable_by_owner_only(reader, &t::JWE_KEYS, path);
    }
    Some(crate::token::jwt::JwtSettings {
        keys,
        jwe_keys,
        audience: (!audience.is_empty()).then_some(audience),
        leeway,
        require_exp,
    })
}

/// A private key file that others may read is a problem: it decrypts every token.
pub(super) fn readable_by_owner_only(
    reader: &mut Reader,
    spec: &t::OptionSpec,
    path: &std::path::Path,
) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.permissions().mode() & 0o007 != 0 {
        if let Some(at) = reader.find(spec) {
            reader.problem(
                &at,
                format!(
                    "{} is readable by others (mode {:o}); chmod 0600 or 0640",
                    path.display(),
                    meta.permissions().mode() & 0o777
                ),
            );
        }
    }
}

/// `[vncgate] redis_url`, `redis_key_prefix`.
pub(super) fn redis(reader: &mut Reader) -> Option<(crate::console::Secret, String)> {
    let prefix = reader.text(&t::REDIS_KEY_PREFIX);
    let url = reader.typed(&t::REDIS_URL, |text| {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        // The parser's message could quote the password: only the shape is named.
        redis::Client::open(text).map_err(|_| {
            "not a Redis URL; accepted values: redis://[:password@]host:port/db".to_owned()
        })?;
        Ok(Some(crate::console::Secret::new(text)))
    });
    url.map(|url| (url, prefix))
}

/// `[vncgate] token_api_url`, `token_api_cache_ttl`, `token_api_ca`, `token_api_bearer_file`.
pub(super) fn token_api(reader: &mut Reader) -> Option<crate::token::api::ApiSettings> {
    let cache_ttl = reader.typed(&t::TOKEN_API_CACHE_TTL, parse_seconds);
    let ca = PathBuf::from(reader.text(&t::TOKEN_API_CA));
    let bearer_file = reader.path(&t::TOKEN_API_BEARER_FILE, Exists::File);
    let url = reader.typed(&t::TOKEN_API_URL, |text| {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let parsed = url::Url::parse(&text.replace("%s", "token"))
            .map_err(|_| format!("{text:?} is not a URL"))?;
        if !matches!(parsed.scheme(), "http" | "https") || !text.contains("%s") {
            return Err(format!(
                "{text:?}: accepted values: an http:// or https:// URL with %s where the token goes"
            ));
        }
        Ok(Some(text.to_owned()))
    })?;
    Some(crate::token::api::ApiSettings {
        url,
        cache_ttl,
        ca,
        bearer_file,
    })
}

/// `[libvirt] uris`, `pki_path`, `timeout`, `vnc_tls`: `None` without hypervisors.
pub(super) fn libvirt(reader: &mut Reader) -> Option<crate::libvirt::LibvirtSettings> {
    let mut hypervisors = reader.typed(&t::LIBVIRT_URIS, |text| {
        let mut hypervisors: Vec<crate::libvirt::Hypervisor> = Vec::new();
        for entry in parse_list(text) {
            let hypervisor = crate::libvirt::Hypervisor::parse(&entry).ok_or_else(|| {
                format!("{entry:?} is not a libvirt URI; accepted values: qemu:///system, qemu+tls://HOST/system, NAME=URI")
            })?;
            if hypervisors.iter().any(|h| h.name == hypervisor.name) {
                return Err(format!("two hypervisors named {:?}: name them, NAME=URI", hypervisor.name));
            }
            hypervisors.push(hypervisor);
        }
        Ok(hypervisors)
    });
    let names: Vec<String> = hypervisors.iter().map(|h| h.name.clone()).collect();
    let vnc_tls = reader.typed(&t::LIBVIRT_VNC_TLS, |text| {
        let listed = parse_list(text);
        match listed.iter().find(|name| *name != "*" && !names.contains(name)) {
            Some(unknown) => Err(format!(
                "{unknown:?} is not a hypervisor of [libvirt] uris ({}); accepted values: their names, or *",
                names.join(", ")
            )),
            None => Ok(listed),
        }
    });
    for hypervisor in &mut hypervisors {
        hypervisor.vnc_tls = vnc_tls
            .iter()
            .any(|name| name == "*" || *name == hypervisor.name);
    }
    let pki_path = reader.path(&t::LIBVIRT_PKI_PATH, Exists::Dir);
    let timeout = reader.typed(&t::LIBVIRT_TIMEOUT, parse_seconds);
    (!hypervisors.is_empty()).then_some(crate::libvirt::LibvirtSettings {
        hypervisors,
        pki_path,
        timeout,
    })
}
