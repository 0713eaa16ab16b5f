//! The console pages' languages: every catalogue of `messages.js` has every key the pages and
//! the proxy's reasons use, with the same placeholders; every reason the proxy can send has a
//! key; and in Chromium each language renders with no key missing, chosen by `?lang=` or by the
//! browser's language (`Accept-Language`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::browser;
use crate::common::pki::TestPki;
use crate::common::*;

const LANGUAGES: [&str; 5] = ["en", "ja", "ru", "zh", "de"];
const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/front/assets");

type Catalogues = BTreeMap<String, BTreeMap<String, String>>;

fn catalogues() -> Catalogues {
    let text = std::fs::read_to_string(Path::new(ASSETS).join("messages.js")).expect("messages.js");
    let start = text.find("export default ").expect("export") + "export default ".len();
    let end = text.rfind(";\n// MESSAGES-END").expect("end marker");
    serde_json::from_str(&text[start..end]).expect("the catalogues are JSON")
}

fn placeholders(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        found.insert(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    found
}

/// The string literals between `start` and the end of its function (the next line that closes
/// a block at `indent`).
fn literals_in(source: &str, start: &str, indent: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find(start) {
        let body = &rest[at..];
        let end = body.find(&format!("\n{indent}}}\n")).unwrap_or(body.len());
        let mut inside = &body[..end];
        while let Some(open) = inside.find('"') {
            let Some(close) = inside[open + 1..].find('"') else {
                break;
            };
            found.push(inside[open + 1..open + 1 + close].to_owned());
            inside = &inside[open + close + 2..];
        }
        rest = &body[end..];
    }
    found
}

#[test]
fn every_catalogue_has_every_key_with_its_placeholders() {
    let catalogues = catalogues();
    assert_eq!(
        catalogues
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        LANGUAGES.into_iter().collect::<BTreeSet<_>>()
    );
    let english = &catalogues["en"];
    for (language, words) in &catalogues {
        let missing: Vec<_> = english.keys().filter(|k| !words.contains_key(*k)).collect();
        let extra: Vec<_> = words.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{language}: missing {missing:?}, unknown {extra:?}"
        );
        for (key, text) in words {
            assert!(!text.trim().is_empty(), "{language}: {key} is empty");
            assert_eq!(
                placeholders(text),
                placeholders(&english[key]),
                "{language}: {key}"
            );
        }
    }
}

#[test]
fn every_key_the_pages_use_is_in_the_catalogue() {
    let english = &catalogues()["en"];
    let mut used = BTreeSet::new();
    for page in ["console.html", "serial.html"] {
        let text = std::fs::read_to_string(Path::new(ASSETS).join(page)).expect("page");
        for part in text.split("data-i18n=\"").skip(1) {
            used.insert(part.split('"').next().unwrap_or_default().to_owned());
        }
        for part in text.split("data-i18n-attr=\"").skip(1) {
            for pair in part.split('"').next().unwrap_or_default().split(';') {
                used.insert(pair.split(':').nth(1).unwrap_or_default().to_owned());
            }
        }
    }
    for script in ["console.js", "link.js", "serial.js"] {
        let text = std::fs::read_to_string(Path::new(ASSETS).join(script)).expect("script");
        // Calls of t('key'), not of get('…') or import('…').
        for (at, _) in text.match_indices("t('") {
            let before = text[..at].chars().last().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue;
            }
            let key = text[at + 3..].split('\'').next().unwrap_or_default();
            used.insert(key.to_owned());
        }
        // Keys chosen at run time: each of their forms.
        if text.contains("t(`clipboard.note.${") {
            for direction in ["both", "from-guest", "to-guest", "none"] {
                used.insert(format!("clipboard.note.{direction}"));
            }
        }
        for part in text.split("t(watching ? '").skip(1) {
            used.insert(part.split('\'').next().unwrap_or_default().to_owned());
        }
    }
    let missing: Vec<_> = used
        .iter()
        .filter(|key| !english.contains_key(*key))
        .collect();
    assert!(used.len() > 40, "{used:?}");
    assert!(
        missing.is_empty(),
        "keys used but not in the catalogue: {missing:?}"
    );
}

/// Every reason the proxy sends a browser (`public_reason`, the close frames of `relay/end.rs`)
/// is the English of a `reason.` key, so that the pages show it in their language.
#[test]
fn every_reason_the_proxy_sends_has_a_key() {
    let english = &catalogues()["en"];
    let reasons: BTreeSet<&str> = english
        .iter()
        .filter(|(key, _)| key.starts_with("reason."))
        .map(|(_, text)| text.as_str())
        .collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sent = Vec::new();
    for file in [
        "rfb/error.rs",
        "backend/error.rs",
        "libvirt/error.rs",
        "front/locate.rs",
        "token/admission.rs",
        "relay/filter/error.rs",
        "recording/error.rs",
    ] {
        let source = std::fs::read_to_string(src.join(file)).expect("source");
        sent.extend(literals_in(&source, "fn public_reason", "    "));
    }
    let end = std::fs::read_to_string(src.join("relay/end.rs")).expect("end.rs");
    sent.extend(literals_in(&end, "pub fn owed", "    "));
    assert!(sent.len() > 30, "{sent:?}");
    // A reason with words of its own after it ("…: {why}"): the reason is what comes before.
    for text in &mut sent {
        if let Some(at) = text.find(": {") {
            text.truncate(at);
        }
    }
    let missing: Vec<_> = sent
        .iter()
        .filter(|text| !reasons.contains(text.as_str()))
        .collect();
    assert!(missing.is_empty(), "reasons without a key: {missing:?}");
}

/// Each language renders in Chromium with no key missing (`?lang=`), and a Japanese browser
/// (`Accept-Language: ja`) gets Japanese without asking.
#[tokio::test]
async fn each_language_renders_with_no_key_missing() {
    if !browser::available() {
        return;
    }
    let catalogues = catalogues();
    let work = tempfile::tempdir().expect("tempdir");
    let pki = TestPki::new(work.path(), "pki");
    let proxy = start_proxy(
        &format!(
            "[DEFAULT]\ncert = {}\nkey = {}\n[vncgate]\nnovnc_dir = {}\n",
            pki.https_cert().display(),
            pki.https_key().display(),
            browser::NOVNC
        ),
        "",
    )
    .await;
    let page = |lang: &str| {
        format!(
            "https://localhost:{}/console.html?path=%3Ftoken%3Dnot-a-token{lang}",
            proxy.addr.port()
        )
    };
    let mut cases: Vec<(&str, String, &str)> = LANGUAGES
        .iter()
        .map(|lang| (*lang, page(&format!("&lang={lang}")), "-"))
        .collect();
    cases.push(("ja", page(""), "ja-JP"));
    cases.push(("en", page(""), "-"));
    for (lang, url, locale) in cases {
        let found =
            browser::browse_with("language", url, "console-language", vec![locale.into()]).await;
        let words = &catalogues[lang];
        assert_eq!(found["missing"], serde_json::json!([]), "{lang}: {found}");
        assert_eq!(
            found["status"], words["status.link_invalid"],
            "{lang}: {found}"
        );
        assert_eq!(found["bar"], words["bar.label"], "{lang}: {found}");
        assert_eq!(
            found["toggle"], words["clipboard.toggle"],
            "{lang}: {found}"
        );
        let html_lang = if lang == "zh" { "zh-Hans" } else { lang };
        assert_eq!(found["lang"], html_lang, "{found}");
    }
}
