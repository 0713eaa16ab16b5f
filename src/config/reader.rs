//! Looks options up in the layered files through their [`OptionSpec`], with the file each value
//! came from, and collects every problem instead of stopping at the first. No network I/O; a
//! path's existence is checked here so that a wrong path is reported with its option.

use std::path::{Path, PathBuf};

use config::{Map, Value};

use super::problem::Problem;
use super::table::{self, OptionSpec, OWN_SECTION};

/// A raw value with where it came from.
#[derive(Debug, Clone)]
pub(super) struct Located {
    pub(super) text: String,
    pub(super) file: String,
    pub(super) section: String,
    pub(super) option: String,
}

/// What a path option must be on disk, when it is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Exists {
    /// A file (or anything that exists).
    File,
    /// A directory.
    Dir,
    /// A file or a directory.
    FileOrDir,
}

/// The merged files, and what was found wrong or worth a warning so far.
pub(super) struct Reader {
    root: Map<String, Value>,
    pub(super) problems: Vec<Problem>,
    pub(super) warnings: Vec<String>,
    /// The last file given: where an option that is set nowhere would go.
    pub(super) fallback_file: String,
}

impl Reader {
    pub(super) fn new(root: Map<String, Value>, fallback_file: String) -> Self {
        Self {
            root,
            problems: Vec::new(),
            warnings: Vec::new(),
            fallback_file,
        }
    }

    fn raw(&self, section: &str, option: &str) -> Option<(String, String)> {
        let table = self.root.get(section)?.clone().into_table().ok()?;
        let value = table.get(option)?;
        let origin = value
            .origin()
            .map_or_else(|| self.fallback_file.clone(), str::to_owned);
        let text = value.clone().into_string().ok()?;
        Some((text, origin))
    }

    /// The value of an option, or of its deprecated `[DEFAULT]` alias.
    pub(super) fn find(&self, spec: &OptionSpec) -> Option<Located> {
        self.find_named(spec.section, spec.name).or_else(|| {
            let alias = spec.alias?;
            self.find_named("DEFAULT", alias)
        })
    }

    fn find_named(&self, section: &str, option: &str) -> Option<Located> {
        let (text, file) = self.raw(section, option)?;
        Some(Located {
            text,
            file,
            section: section.into(),
            option: option.into(),
        })
    }

    /// Records a problem with a value.
    pub(super) fn problem(&mut self, at: &Located, message: String) {
        self.problems.push(Problem {
            file: at.file.clone(),
            section: at.section.clone(),
            option: at.option.clone(),
            message,
        });
    }

    /// Records a problem with an option that is not set, in the last file given.
    pub(super) fn missing(&mut self, spec: &OptionSpec, file: Option<String>, message: String) {
        self.problems.push(Problem {
            file: file.unwrap_or_else(|| self.fallback_file.clone()),
            section: spec.section.into(),
            option: spec.name.into(),
            message,
        });
    }

    /// The option parsed with `parse`, else its default parsed the same way. A failure is
    /// recorded and gives `T::default()`, so that every problem is found in one pass.
    pub(super) fn typed<T: Default>(
        &mut self,
        spec: &OptionSpec,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> T {
        match self.find(spec) {
            Some(at) => match parse(&at.text) {
                Ok(value) => value,
                Err(message) => {
                    self.problem(&at, message);
                    T::default()
                }
            },
            // The defaults are held to their parsers by a test that loads an empty file.
            None => match parse(spec.default_value().unwrap_or_default()) {
                Ok(value) => value,
                Err(message) => {
                    self.missing(spec, None, format!("built-in default: {message}"));
                    T::default()
                }
            },
        }
    }

    /// The option's text, trimmed (its default when unset).
    pub(super) fn text(&mut self, spec: &OptionSpec) -> String {
        self.typed(spec, |text| Ok(text.trim().to_owned()))
    }

    /// A path option that is set and not empty; it must exist as `exists` says. A path under
    /// `${CREDENTIALS_DIRECTORY}/` names a credential systemd handed over (`LoadCredential=`),
    /// so that keys readable by root alone reach an unprivileged service.
    pub(super) fn path(&mut self, spec: &OptionSpec, exists: Exists) -> Option<PathBuf> {
        let at = self.find(spec)?;
        let text = at.text.trim();
        if text.is_empty() {
            return None;
        }
        let path = match credential(text) {
            None => PathBuf::from(text),
            Some(Ok(path)) => path,
            Some(Err(message)) => {
                self.problem(&at, message);
                return None;
            }
        };
        self.require(&at, &path, exists);
        Some(path)
    }

    /// A path option, its default when unset (not checked: defaults may be absent), `None`
    /// when set empty.
    pub(super) fn path_or_default(&mut self, spec: &OptionSpec, exists: Exists) -> Option<PathBuf> {
        match self.find(spec) {
            Some(_) => self.path(spec, exists),
            None => spec.default_value().map(PathBuf::from),
        }
    }

    /// Records a problem unless `path` exists as `exists` says.
    pub(super) fn require(&mut self, at: &Located, path: &Path, exists: Exists) {
        let (ok, what) = match exists {
            Exists::Dir => (path.is_dir(), "directory"),
            Exists::File => (path.exists(), "file"),
            Exists::FileOrDir => (path.exists(), "file or directory"),
        };
        if !ok {
            self.problem(at, format!("{what} {} does not exist", path.display()));
        }
    }

    /// Unknown options are debug-logged, except in `[vncgate]`, which is ours alone.
    pub(super) fn report_unknown(&mut self) {
        let sections: Vec<(String, Vec<String>)> = self
            .root
            .iter()
            .map(|(name, value)| {
                let keys = value.clone().into_table().map(|t| t.into_keys().collect());
                (name.clone(), keys.unwrap_or_default())
            })
            .collect();
        for (section, keys) in sections {
            for key in keys
                .into_iter()
                .filter(|key| !table::is_known(&section, key))
            {
                if section == OWN_SECTION {
                    if let Some(at) = self.find_named(OWN_SECTION, &key) {
                        let known = table::names_in(OWN_SECTION).join(", ");
                        self.problem(&at, format!("unknown option; known: {known}"));
                    }
                } else {
                    tracing::debug!(section = %section, option = %key, "option not used by vncgate");
                }
            }
        }
    }
}

/// `${CREDENTIALS_DIRECTORY}/NAME` (or `$CREDENTIALS_DIRECTORY/NAME`) in the directory systemd
/// says; `None` for any other path.
fn credential(text: &str) -> Option<Result<PathBuf, String>> {
    let name = text
        .strip_prefix("${CREDENTIALS_DIRECTORY}/")
        .or_else(|| text.strip_prefix("$CREDENTIALS_DIRECTORY/"))?;
    Some(match std::env::var_os("CREDENTIALS_DIRECTORY") {
        Some(dir) if !name.is_empty() && !name.contains('/') => Ok(PathBuf::from(dir).join(name)),
        Some(_) => Err(format!("{text:?} does not name a single credential")),
        None => Err(format!(
            "{text:?} names a systemd credential, but CREDENTIALS_DIRECTORY is not set: start \
             vncgate from its unit, with LoadCredential={name}:/path/to/file"
        )),
    })
}
