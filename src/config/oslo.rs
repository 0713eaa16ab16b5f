//! The INI dialect of oslo.config, as a `config` crate source. No I/O.
//!
//! `config`'s own INI format goes through rust-ini, which reads `\` as an escape, splits values at
//! inline comments and has no indented continuation lines. oslo.config does none of the first two
//! and all of the last, and a real `nova.conf` relies on that, so the few rules are kept here.

use config::{Map, Value, ValueKind};

/// A line that oslo.config would refuse too.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, in plain words.
    pub message: &'static str,
}

/// oslo.config's INI syntax, which [`parse_sections`] reads: `[section]`, `key = value` or
/// `key: value`, `#`/`;` comment lines, indented continuation lines, matching quotes around a
/// value removed, the last repeat of a key winning.
///
/// One section in file order: its name and its `(key, value)` pairs, last repeat wins.
pub type Section = (String, Vec<(String, String)>);

/// Parses oslo-style INI text into sections in file order.
///
/// # Errors
/// A key outside any section, an unclosed section header, or a line that is neither.
pub fn parse_sections(text: &str) -> Result<Vec<Section>, SyntaxError> {
    let mut sections: Vec<Section> = Vec::new();
    // Index into the current section's pairs of the key that a continuation line extends.
    let mut open_key: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let number = index + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() {
            open_key = None;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let open = sections
                .last_mut()
                .and_then(|(_, pairs)| pairs.get_mut(open_key?));
            if let Some((_, value)) = open {
                value.push('\n');
                value.push_str(trimmed);
                continue;
            }
        }
        if let Some(rest) = trimmed.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or(SyntaxError {
                line: number,
                message: "section header has no closing ']'",
            })?;
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err(SyntaxError {
                    line: number,
                    message: "empty section name",
                });
            }
            // A section may appear twice in one file; oslo merges them. The current section is
            // always the last one, where the options that follow go.
            let section = match sections.iter().position(|(existing, _)| *existing == name) {
                Some(position) => sections.remove(position),
                None => (name, Vec::new()),
            };
            sections.push(section);
            open_key = None;
            continue;
        }
        let split = trimmed.find(['=', ':']).ok_or(SyntaxError {
            line: number,
            message: "expected 'key = value', a [section] or a comment",
        })?;
        let key = trimmed[..split].trim();
        if key.is_empty() {
            return Err(SyntaxError {
                line: number,
                message: "option with an empty name",
            });
        }
        let value = unquote(trimmed[split + 1..].trim());
        let Some((_, pairs)) = sections.last_mut() else {
            return Err(SyntaxError {
                line: number,
                message: "option before any [section] header",
            });
        };
        if let Some(existing) = pairs.iter().position(|(name, _)| name == key) {
            pairs.remove(existing);
        }
        pairs.push((key.to_owned(), value.to_owned()));
        open_key = Some(pairs.len() - 1);
    }
    Ok(sections)
}

/// oslo strips one pair of matching quotes around a whole value.
fn unquote(value: &str) -> &str {
    ['"', '\'']
        .into_iter()
        .find_map(|quote| value.strip_prefix(quote)?.strip_suffix(quote))
        .unwrap_or(value)
}

fn to_map(uri: Option<&String>, sections: Vec<Section>) -> Map<String, Value> {
    let mut root = Map::new();
    for (section, pairs) in sections {
        let mut table = Map::new();
        for (key, value) in pairs {
            table.insert(key, Value::new(uri, ValueKind::String(value)));
        }
        root.insert(section, Value::new(uri, ValueKind::Table(table)));
    }
    root
}

/// One parsed file as a `config` source whose values carry the file's path exactly as the
/// operator gave it (`config`'s own file source rewrites it relative to the working directory).
#[derive(Debug, Clone)]
pub struct OsloFile {
    origin: String,
    sections: Vec<Section>,
}

impl OsloFile {
    /// Parses `text`, read from `origin`.
    ///
    /// # Errors
    /// What [`parse_sections`] refuses.
    pub fn parse(origin: String, text: &str) -> Result<Self, SyntaxError> {
        Ok(Self {
            origin,
            sections: parse_sections(text)?,
        })
    }
}

impl config::Source for OsloFile {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(to_map(Some(&self.origin), self.sections.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<Section> {
        match parse_sections(text) {
            Ok(sections) => sections,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }

    #[test]
    fn reads_sections_keys_and_both_separators() {
        let sections = pairs("[DEFAULT]\ndebug = True\n[vnc]\nauth_schemes: vencrypt,none\n");
        assert_eq!(sections[0].0, "DEFAULT");
        assert_eq!(sections[0].1, vec![("debug".into(), "True".into())]);
        assert_eq!(
            sections[1].1,
            vec![("auth_schemes".into(), "vencrypt,none".into())]
        );
    }

    #[test]
    fn keeps_backslashes_and_hashes_inside_values() {
        let sections = pairs("[a]\nregex = ^\\d+#x ;y\n");
        assert_eq!(sections[0].1[0].1, "^\\d+#x ;y");
    }

    #[test]
    fn joins_indented_continuation_lines() {
        let sections = pairs("[a]\nfilters = One,\n   Two,\n   Three\nnext = 1\n");
        assert_eq!(sections[0].1[0].1, "One,\nTwo,\nThree");
        assert_eq!(sections[0].1[1], ("next".into(), "1".into()));
    }

    #[test]
    fn removes_matching_quotes_only() {
        let sections = pairs("[a]\nx = \"quoted\"\ny = 'half\"\n");
        assert_eq!(sections[0].1[0].1, "quoted");
        assert_eq!(sections[0].1[1].1, "'half\"");
    }

    #[test]
    fn last_repeat_wins_and_repeated_sections_merge() {
        let sections = pairs("[a]\nx = 1\n[b]\ny = 2\n[a]\nx = 3\nz = 4\n");
        let a = sections
            .iter()
            .find(|(name, _)| name == "a")
            .map(|(_, p)| p.clone());
        assert_eq!(
            a,
            Some(vec![("x".into(), "3".into()), ("z".into(), "4".into())])
        );
    }

    #[test]
    fn comments_and_crlf() {
        let sections = pairs("# top\r\n[a]\r\n; c\r\n  # indented comment\r\nx=1\r\n");
        assert_eq!(sections[0].1, vec![("x".into(), "1".into())]);
    }

    #[test]
    fn refuses_what_oslo_refuses() {
        for (text, line) in [
            ("x = 1\n", 1),
            ("[a]\n[b\n", 2),
            ("[a]\njunk\n", 2),
            ("[a]\n= v\n", 2),
        ] {
            match parse_sections(text) {
                Err(error) => assert_eq!(error.line, line, "{text:?}"),
                Ok(sections) => panic!("{text:?} parsed as {sections:?}"),
            }
        }
    }
}
