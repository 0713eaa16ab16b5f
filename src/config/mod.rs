//! Settings: the nova-compatible INI files read, checked and turned into typed values.
//!
//! Two layers, as the `config` crate gives strings only: [`oslo`] parses the files and `config`
//! layers them (later files win, as in oslo.config); [`Settings::load`] then reads each option
//! it knows into a typed field, collecting every error with its file, section and option, so
//! that `check-config` can print them all at once.

mod edge;
mod features;
mod options;
pub mod oslo;
mod page;
mod ports;
mod problem;
mod reader;
mod settings;
mod signin;
pub mod table;
pub mod value;

use std::path::{Path, PathBuf};

pub use crate::console::{AuthScheme, Secret};
pub use ports::PORT_OPTIONS;
use problem::file_problem;
pub use problem::{ConfigError, Problem};
pub use settings::{
    AuditTarget, BackendPolicy, ConsolePort, Edge, ForwardedHeader, FrontTls, Limits, Operations,
    Recording, Settings, TlsMinimum, VencryptFiles,
};
pub use table::OPTIONS;

impl Settings {
    /// Reads `files` in order, then the `*.conf` of each of `dirs` in name order, later values
    /// winning (oslo.config's `--config-file` and `--config-dir`).
    ///
    /// # Errors
    /// Every unreadable file, syntax error and wrong value, each naming file, section and option.
    pub fn load(files: &[PathBuf], dirs: &[PathBuf]) -> Result<Self, ConfigError> {
        let mut all = files.to_vec();
        for dir in dirs {
            match conf_files_in(dir) {
                Ok(found) => all.extend(found),
                Err(error) => {
                    return Err(ConfigError {
                        problems: vec![file_problem(
                            dir,
                            format!("cannot read directory: {error}"),
                        )],
                    })
                }
            }
        }
        options::read(&all)
    }
}

fn conf_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "conf") && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}
