//! The console page's `<link rel="modulepreload">` list: noVNC's module graph, read once from
//! `novnc_dir` at start-up, so that the browser fetches every module at once instead of
//! discovering them one import at a time (a round trip per level of the graph, before the first
//! frame). Only relative imports inside the directory are followed; anything odd ends the walk
//! there, never the start-up: without the list the page loads as before.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Component, Path, PathBuf};

/// Where the walk starts: what the console page imports.
const ENTRY: &str = "core/rfb.js";
/// noVNC 1.x has about 40 modules; a directory with far more is not noVNC's.
const MAX_MODULES: usize = 200;
/// A module larger than this is not read (noVNC's largest is about 100 KB).
const MAX_BYTES: u64 = 1 << 20;

/// The paths (relative to `dir`, `/`-separated) of `core/rfb.js` and every module it imports,
/// directly or not, in the order found.
pub(super) fn novnc_modules(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([PathBuf::from(ENTRY)]);
    while let Some(module) = queue.pop_front() {
        if found.len() >= MAX_MODULES || !seen.insert(module.clone()) {
            continue;
        }
        let Some(text) = read_module(&dir.join(&module)) else {
            continue;
        };
        found.push(slashed(&module));
        let base = module.parent().unwrap_or(Path::new(""));
        for specifier in relative_imports(&text) {
            if let Some(next) = resolve(base, specifier) {
                queue.push_back(next);
            }
        }
    }
    found
}

/// `html` with a `<link rel="modulepreload">` for each of `modules` (served under `/novnc/`)
/// in place of `marker`; as it was when the marker is absent or the list empty.
pub(super) fn with_preloads(html: &str, marker: &str, modules: &[String]) -> String {
    let links: String = modules
        .iter()
        .map(|module| format!("<link rel=\"modulepreload\" href=\"/novnc/{module}\">\n  "))
        .collect();
    html.replacen(marker, links.trim_end(), 1)
}

fn read_module(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    if size > MAX_BYTES {
        return None;
    }
    std::fs::read_to_string(path).ok()
}

/// The specifiers of `import … from './x.js'`, `import './x.js'` and `export … from './x.js'`
/// that start with `./` or `../`.
fn relative_imports(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        // A statement's first line, or the last line of one split over several.
        let starts = ["import", "export", "}", "from"];
        if !starts.iter().any(|start| line.starts_with(start)) {
            continue;
        }
        // The quoted specifier that ends the statement.
        let Some(end) = line.rfind(['\'', '"']) else {
            continue;
        };
        let quote = line.as_bytes().get(end).copied().map(char::from);
        let Some(start) = quote.and_then(|q| line.get(..end)?.rfind(q)) else {
            continue;
        };
        let Some(specifier) = line.get(start + 1..end) else {
            continue;
        };
        let before = line.get(..start).unwrap_or_default();
        let statement = before.trim_end().ends_with("from") || before.trim_end() == "import";
        if statement && (specifier.starts_with("./") || specifier.starts_with("../")) {
            found.push(specifier);
        }
    }
    found
}

/// `specifier` from a module in `base`, kept inside the directory.
fn resolve(base: &Path, specifier: &str) -> Option<PathBuf> {
    let mut path = base.to_path_buf();
    for component in Path::new(specifier).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !path.pop() {
                    return None;
                }
            }
            Component::Normal(part) => path.push(part),
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    path.extension()
        .is_some_and(|ext| ext == "js")
        .then_some(path)
}

fn slashed(path: &Path) -> String {
    path.components()
        .filter_map(|c| c.as_os_str().to_str())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_found_and_resolved_inside_the_directory() {
        let text = "import * as Log from './util/logging.js';\n\
                    import Base64 from \"../base64.js\";\n\
                    export { default } from './display.js';\n\
                    import './side-effect.js';\n\
                    import x from 'https://elsewhere/x.js';\n\
                    const s = 'import from ./not-a-statement.js';\n";
        assert_eq!(
            relative_imports(text),
            [
                "./util/logging.js",
                "../base64.js",
                "./display.js",
                "./side-effect.js"
            ]
        );
        assert_eq!(
            resolve(Path::new("core"), "../base64.js"),
            Some(PathBuf::from("base64.js"))
        );
        assert_eq!(resolve(Path::new("core"), "../../etc/passwd.js"), None);
        assert_eq!(resolve(Path::new("core"), "./x.json"), None);
    }

    #[test]
    fn debians_novnc_graph_is_walked_from_rfb_js() {
        let dir = Path::new("/usr/share/novnc");
        if !dir.join(ENTRY).is_file() {
            eprintln!("skipped: Debian's novnc is not installed");
            return;
        }
        let modules = novnc_modules(dir);
        assert_eq!(modules.first().map(String::as_str), Some(ENTRY));
        assert!(
            modules.iter().any(|m| m == "core/display.js"),
            "{modules:?}"
        );
        assert!(modules.len() > 10, "{modules:?}");
        let html = with_preloads("<head>\n  <!-- M -->\n</head>", "<!-- M -->", &modules);
        assert!(html.contains("<link rel=\"modulepreload\" href=\"/novnc/core/rfb.js\">"));
    }
}
