//! Reading a recording back, where the age identity is (an auditor's machine, not the proxy):
//! decrypting, its header, and the formats it exports to.

use std::io::Read;
use std::path::Path;

use base64::Engine;

use super::error::Error;
use super::format::FORMAT;

/// Largest recording read back whole: past this, `age -d` and a streaming tool are the way.
const MAX_READ: u64 = 4 << 30;

/// A recording's text: decrypted with `identity` when it is an age file.
///
/// # Errors
/// An unreadable file, a missing or wrong identity, a file that is not a recording.
pub fn text(path: &Path, identity: Option<&Path>) -> Result<String, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = Vec::new();
    let mut head = [0u8; 22];
    let encrypted = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && head.starts_with(b"age-encryption.org/v1");
    if encrypted {
        let identity = identity.ok_or(Error::NeedsIdentity)?;
        let identities = age::IdentityFile::from_file(identity.display().to_string())
            .and_then(|file| file.into_identities().map_err(std::io::Error::other))
            .map_err(|source| Error::Read {
                path: identity.to_path_buf(),
                source,
            })?;
        let decryptor = age::Decryptor::new(file).map_err(Error::Decrypt)?;
        let mut reader = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(Error::Decrypt)?;
        reader
            .by_ref()
            .take(MAX_READ)
            .read_to_end(&mut bytes)
            .map_err(Error::Write)?;
    } else {
        file.take(MAX_READ)
            .read_to_end(&mut bytes)
            .map_err(Error::Write)?;
    }
    String::from_utf8(bytes).map_err(|_| Error::NotRecording)
}

/// The header of a recording's text: ours, or the `vncgate` object of an asciicast header.
///
/// # Errors
/// The first line is not a recording's header.
pub fn header(text: &str) -> Result<serde_json::Value, Error> {
    let first = text.lines().next().ok_or(Error::NotRecording)?;
    let value: serde_json::Value = serde_json::from_str(first).map_err(|_| Error::NotRecording)?;
    if value.get("format").and_then(|f| f.as_str()) == Some(FORMAT) {
        return Ok(value);
    }
    value.get("vncgate").cloned().ok_or(Error::NotRecording)
}

/// The timed events after the header: `(seconds, code, data)`.
pub fn events(text: &str) -> impl Iterator<Item = (f64, String, String)> + '_ {
    text.lines().skip(1).filter_map(|line| {
        let (time, code, data): (f64, String, String) = serde_json::from_str(line).ok()?;
        Some((time, code, data))
    })
}

/// An RFB recording as noVNC's playback frame data: `VNC_frame_data`, base64 frames `{MS{…`
/// from the server and `}MS}…` from the browser, the handshake a server sends before
/// ServerInit first, then `EOF`.
///
/// # Errors
/// A serial recording (asciicast is its export), or not a recording.
pub fn novnc(text: &str) -> Result<String, Error> {
    let header = header(text)?;
    if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(Error::WrongExport(
            "novnc is for RFB recordings; use asciicast",
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut out = format!(
        "// vncgate recording of session {} ({}), as noVNC's playback frame data.\n\
         var VNC_frame_encoding = 'base64';\nvar VNC_frame_data = [\n",
        header.get("session").unwrap_or(&serde_json::Value::Null),
        header
            .get("target")
            .and_then(|t| t.as_str())
            .unwrap_or_default(),
    );
    for bytes in [&b"RFB 003.008\n"[..], &[1, 1], &[0, 0, 0, 0]] {
        out.push_str(&format!("'{{0{{{}',\n", b64.encode(bytes)));
    }
    for (time, code, data) in events(text) {
        let ms = (time * 1000.0) as u64;
        match code.as_str() {
            "s" => out.push_str(&format!("'{{{ms}{{{data}',\n")),
            "c" => out.push_str(&format!("'}}{ms}}}{data}',\n")),
            _ => {}
        }
    }
    out.push_str("'EOF'];\n");
    Ok(out)
}

/// A serial recording as asciicast v2 (what it already is).
///
/// # Errors
/// An RFB recording, or not a recording.
pub fn asciicast(text: &str) -> Result<String, Error> {
    header(text)?;
    let first: serde_json::Value = text
        .lines()
        .next()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or(Error::NotRecording)?;
    if first.get("version").and_then(|v| v.as_u64()) != Some(2) {
        return Err(Error::WrongExport(
            "asciicast is for serial recordings; use novnc",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::{asciicast, novnc};

    const RFB: &str = "{\"format\":\"vncgate-recording\",\"version\":1,\"session\":3,\"target\":\"127.0.0.1:5900\"}\n\
                       [0.5,\"s\",\"AAEAAQ==\"]\n[0.75,\"c\",\"AQ==\"]\n";

    #[test]
    fn an_rfb_recording_becomes_novnc_frame_data() {
        let js = novnc(RFB).expect("novnc");
        assert!(js.contains("'{0{UkZCIDAwMy4wMDgK',"), "{js}");
        assert!(js.contains("'{500{AAEAAQ==',"), "{js}");
        assert!(js.contains("'}750}AQ==',"), "{js}");
        assert!(js.ends_with("'EOF'];\n"));
        assert!(asciicast(RFB).is_err());
    }

    #[test]
    fn a_serial_recording_is_its_own_asciicast() {
        let cast = "{\"version\":2,\"width\":80,\"height\":24,\"vncgate\":{\"console\":\"serial\"}}\n[0.1,\"o\",\"hi\"]\n";
        assert_eq!(asciicast(cast).expect("cast"), cast);
        assert!(novnc(cast).is_err());
    }
}
