//! `vncgate recording list|show|export`: where the recordings are and what is in one. Showing
//! and exporting an encrypted recording takes the age identity; the proxy host has none.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::args::{ExportFormat, RecordingCommand};
use super::startup::load_settings;
use crate::chain::chain;
use crate::recording::read;

/// Runs a `recording` subcommand.
pub fn run(command: RecordingCommand) -> ExitCode {
    let result = match command {
        RecordingCommand::List { files } => match load_settings(&files) {
            Ok(settings) => list(&settings.recording.dir),
            Err(code) => return code,
        },
        RecordingCommand::Show { file, identity } => show(&file, identity.as_deref()),
        RecordingCommand::Export {
            file,
            format,
            identity,
            output,
        } => export(&file, format, identity.as_deref(), output.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vncgate recording: {message}");
            ExitCode::FAILURE
        }
    }
}

fn list(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut rows: Vec<(String, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let recording = [".vncrec", ".cast", ".vncrec.age", ".cast.age"]
                .iter()
                .any(|end| name.ends_with(end));
            let size = entry.metadata().ok()?.len();
            recording.then_some((name, size))
        })
        .collect();
    // Names start with the time: sorted by name is sorted by start.
    rows.sort();
    println!("{:<64} {:>12} {:<9} encrypted", "file", "bytes", "console");
    for (name, size) in rows {
        let console = if name.contains(".cast") {
            "serial"
        } else {
            "rfb"
        };
        let encrypted = if name.ends_with(".age") { "yes" } else { "no" };
        println!("{name:<64} {size:>12} {console:<9} {encrypted}");
    }
    Ok(())
}

fn show(file: &Path, identity: Option<&Path>) -> Result<(), String> {
    let text = read::text(file, identity).map_err(|e| chain(&e).to_string())?;
    let header = read::header(&text).map_err(|e| chain(&e).to_string())?;
    let mut events = 0usize;
    let mut last = 0f64;
    for (time, _, _) in read::events(&text) {
        events += 1;
        last = time;
    }
    let pretty = serde_json::to_string_pretty(&header).map_err(|e| e.to_string())?;
    println!("{pretty}");
    println!("events: {events}\nlength_s: {last:.3}");
    Ok(())
}

fn export(
    file: &Path,
    format: ExportFormat,
    identity: Option<&Path>,
    output: Option<&Path>,
) -> Result<(), String> {
    let text = read::text(file, identity).map_err(|e| chain(&e).to_string())?;
    let exported = match format {
        ExportFormat::Asciicast => read::asciicast(&text),
        ExportFormat::Novnc => read::novnc(&text),
    }
    .map_err(|e| chain(&e).to_string())?;
    match output {
        None => std::io::stdout()
            .write_all(exported.as_bytes())
            .map_err(|e| e.to_string()),
        Some(path) => {
            use std::os::unix::fs::OpenOptionsExt;
            // A decrypted recording is as secret as the session: 0600, never over a file.
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            out.write_all(exported.as_bytes())
                .map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}
