//! What is wrong with a configuration: each problem with its file, section and option, and all
//! of them together as [`ConfigError`]. No I/O.

use std::fmt;
use std::path::Path;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file the value came from, or where the option would go.
    pub file: String,
    /// Section name, without brackets.
    pub section: String,
    /// Option name; empty for a problem with a whole file.
    pub option: String,
    /// What is wrong and what is accepted.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.option.is_empty() {
            write!(formatter, "{}: {}", self.file, self.message)
        } else {
            write!(
                formatter,
                "{}: [{}] {}: {}",
                self.file, self.section, self.option, self.message
            )
        }
    }
}

/// Why the configuration could not be used: every problem found, not just the first.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    /// All problems, in the order found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                formatter.write_str("\n")?;
            }
            write!(formatter, "{problem}")?;
        }
        Ok(())
    }
}

pub(super) fn file_problem(path: &Path, message: String) -> Problem {
    Problem {
        file: path.display().to_string(),
        section: String::new(),
        option: String::new(),
        message,
    }
}
