//! `[vncgate] console_defaults`: the operator's settings of the console page, as a JSON object
//! like noVNC's `defaults.json`, whose `mandatory` object (noVNC's `mandatory.json`) holds the
//! settings people cannot change. Checked here, handed to the page as compact JSON.

use serde_json::{Map, Value};

/// The settings the page knows, and what each takes.
const SETTINGS: [(&str, Kind); 7] = [
    ("resize", Kind::OneOf(&["scale", "remote", "off"])),
    ("quality", Kind::Level),
    ("compression", Kind::Level),
    ("show_dot", Kind::Flag),
    ("bell", Kind::Flag),
    ("view_only", Kind::Flag),
    ("lang", Kind::OneOf(&["en", "ja", "ru", "zh", "de"])),
];

#[derive(Clone, Copy)]
enum Kind {
    OneOf(&'static [&'static str]),
    /// 0 to 9, as RFB's quality and compression levels.
    Level,
    Flag,
}

/// The option's value, checked: compact JSON for the page; `None` when empty.
///
/// # Errors
/// Not a JSON object, an unknown setting, or a value the setting does not take.
pub(super) fn console_defaults(text: &str) -> Result<Option<String>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("not a JSON object: {error}"))?;
    let Value::Object(mut settings) = value else {
        return Err("not a JSON object".into());
    };
    let mandatory = settings.remove("mandatory");
    check(&settings)?;
    match &mandatory {
        Some(Value::Object(forced)) => check(forced).map_err(|e| format!("mandatory: {e}"))?,
        Some(_) => return Err("mandatory: not a JSON object".into()),
        None => {}
    }
    if let Some(forced) = mandatory {
        settings.insert("mandatory".into(), forced);
    }
    Ok(Some(Value::Object(settings).to_string()))
}

fn check(settings: &Map<String, Value>) -> Result<(), String> {
    for (name, value) in settings {
        let Some((_, kind)) = SETTINGS.iter().find(|(known, _)| known == name) else {
            let known: Vec<&str> = SETTINGS.iter().map(|(known, _)| *known).collect();
            return Err(format!(
                "unknown setting {name:?} (known: {}, mandatory)",
                known.join(", ")
            ));
        };
        let fits = match kind {
            Kind::OneOf(choices) => value.as_str().is_some_and(|v| choices.contains(&v)),
            Kind::Level => value.as_u64().is_some_and(|level| level <= 9),
            Kind::Flag => value.is_boolean(),
        };
        if !fits {
            let wanted = match kind {
                Kind::OneOf(choices) => choices.join(" or "),
                Kind::Level => "a number from 0 to 9".into(),
                Kind::Flag => "true or false".into(),
            };
            return Err(format!("{name}: {value} is not {wanted}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_kept_compact() {
        let text = r#"{ "resize": "remote", "quality": 6, "show_dot": true,
                        "mandatory": { "view_only": true, "lang": "ja" } }"#;
        let value: Value =
            serde_json::from_str(&console_defaults(text).expect("good").expect("set"))
                .expect("json");
        assert_eq!(console_defaults("  ").expect("empty"), None);
        assert_eq!(value["resize"], "remote");
        assert_eq!(value["mandatory"]["lang"], "ja");
        for (bad, says) in [
            ("[1]", "not a JSON object"),
            ("{", "not a JSON object"),
            (r#"{"colour": 1}"#, "unknown setting \"colour\""),
            (
                r#"{"quality": 10}"#,
                "quality: 10 is not a number from 0 to 9",
            ),
            (
                r#"{"resize": "big"}"#,
                "resize: \"big\" is not scale or remote or off",
            ),
            (r#"{"mandatory": {"bell": "yes"}}"#, "mandatory: bell"),
            (
                r#"{"mandatory": {"mandatory": {}}}"#,
                "mandatory: unknown setting",
            ),
            (r#"{"mandatory": 1}"#, "mandatory: not a JSON object"),
        ] {
            let error = console_defaults(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
