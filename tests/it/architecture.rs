//! The layering docs/ARCHITECTURE.md promises, checked from the source: no import cycle between
//! files or between top-level modules, in the proxy and in the pki crate; the protocol cores
//! (`rfb/`, `spice/`, `websocket/`), the relay and the plain-types leaf import only what they
//! may; `session/`, `backend/`, `token/` and `config/` import none of what they may not; no file
//! outside tests is over 400 lines, and no function over 80.
//!
//! An import is a `use` line or a path written in code (`crate::a::b`, `super::x`, or a child
//! module's name), resolved to the file of the deepest module it names. `mod x;` lines
//! declare, they do not import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files of one crate, by module path (`["front", "http"]`), and what each imports.
struct Crate {
    files: BTreeMap<Vec<String>, PathBuf>,
    edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
}

fn module_path(root: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(root).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .iter()
        .map(|part| part.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
}

/// Code without comments and string literals, so that neither makes an edge.
fn code_of(text: &str) -> String {
    let mut code = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // A char literal ('"', '\'') is skipped; a lifetime ('a) is kept.
            '\'' => {
                let mut ahead = chars.clone();
                match (ahead.next(), ahead.next()) {
                    (Some('\\'), _) => {
                        chars.next();
                        chars.next();
                        for next in chars.by_ref() {
                            if next == '\'' {
                                break;
                            }
                        }
                    }
                    (Some(_), Some('\'')) => {
                        chars.next();
                        chars.next();
                    }
                    _ => code.push(c),
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for next in chars.by_ref() {
                    if next == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            '"' => {
                let mut escaped = false;
                for next in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if next == '\\' {
                        escaped = true;
                    } else if next == '"' {
                        break;
                    }
                }
                code.push_str("\"\"");
            }
            other => code.push(other),
        }
    }
    code
}

/// The code before an inline `#[cfg(test)] mod tests { ... }`, whose `super::*` means the
/// file itself.
fn without_inline_tests(code: &str) -> &str {
    let mut from = 0;
    while let Some(at) = code[from..].find("#[cfg(test)]") {
        let start = from + at;
        let after = code[start + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod tests {") {
            return &code[..start];
        }
        from = start + 1;
    }
    code
}

/// Every path a `use` item names, braces expanded: `a::{b, c::d}` → `a::b`, `a::c::d`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (index, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..index], out);
                    start = index + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else if !tree.is_empty() {
        let item = tree.split(" as ").next().unwrap_or(tree).trim();
        out.push(join(prefix, item));
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ => format!("{prefix}::{rest}"),
    }
}

fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("use ") {
        let boundary = at == 0 || !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if boundary {
            expand("", &after[..end], &mut paths);
        }
        rest = &after[end.min(after.len())..];
    }
    // Paths written in code: identifier chains joined by `::`.
    let bytes = code.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let starts = (bytes[index].is_ascii_alphabetic() || bytes[index] == b'_')
            && (index == 0
                || !(bytes[index - 1].is_ascii_alphanumeric()
                    || bytes[index - 1] == b'_'
                    || bytes[index - 1] == b':'));
        if !starts {
            index += 1;
            continue;
        }
        let mut end = index;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_' || bytes[end] == b':')
        {
            end += 1;
        }
        let chain = &code[index..end];
        // `a::{b, c}` and `a::*` end in `::`: the use pass above expands those.
        if chain.contains("::") && !chain.ends_with("::") {
            paths.push(chain.to_owned());
        }
        index = end;
    }
    paths
}

impl Crate {
    fn read(root: &Path) -> Self {
        let mut found = Vec::new();
        rust_files(root, &mut found);
        let files: BTreeMap<Vec<String>, PathBuf> = found
            .into_iter()
            .filter(|file| !file.ends_with("main.rs"))
            .map(|file| (module_path(root, &file), file))
            .collect();
        let mut edges = BTreeMap::new();
        for (module, file) in &files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            let mut targets = BTreeSet::new();
            for path in paths_in(without_inline_tests(&code_of(&text))) {
                if let Some(target) = resolve(&files, module, &path) {
                    if &target != module {
                        targets.insert(target);
                    }
                }
            }
            edges.insert(module.clone(), targets);
        }
        Self { files, edges }
    }

    /// A cycle in `graph`, if there is one, as the nodes along it.
    fn cycle<N: Ord + Clone>(graph: &BTreeMap<N, BTreeSet<N>>) -> Option<Vec<N>> {
        fn visit<N: Ord + Clone>(
            node: &N,
            graph: &BTreeMap<N, BTreeSet<N>>,
            done: &mut BTreeSet<N>,
            stack: &mut Vec<N>,
        ) -> Option<Vec<N>> {
            if let Some(at) = stack.iter().position(|n| n == node) {
                return Some(stack[at..].to_vec());
            }
            if done.contains(node) {
                return None;
            }
            stack.push(node.clone());
            for next in graph.get(node).into_iter().flatten() {
                if let Some(cycle) = visit(next, graph, done, stack) {
                    return Some(cycle);
                }
            }
            stack.pop();
            done.insert(node.clone());
            None
        }
        let mut done = BTreeSet::new();
        graph
            .keys()
            .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
    }

    /// Edges between top-level modules (`front`, `token`, ...; the crate root as "").
    fn folders(&self) -> BTreeMap<String, BTreeSet<String>> {
        let top = |module: &Vec<String>| module.first().cloned().unwrap_or_default();
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, targets) in &self.edges {
            let entry = graph.entry(top(from)).or_default();
            for to in targets {
                if top(to) != top(from) {
                    entry.insert(top(to));
                }
            }
        }
        graph
    }
}

/// The module file a path lands in: the deepest existing module along it.
fn resolve(
    files: &BTreeMap<Vec<String>, PathBuf>,
    from: &[String],
    path: &str,
) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<String> = match segments.first().copied()? {
        "crate" => Vec::new(),
        "self" => from.to_vec(),
        "super" => from.to_vec(),
        child => {
            let mut candidate = from.to_vec();
            candidate.push(child.to_owned());
            if !files.contains_key(&candidate) {
                return None;
            }
            from.to_vec()
        }
    };
    let mut rest = &segments[..];
    match segments.first().copied()? {
        "crate" | "self" => rest = &segments[1..],
        _ => {}
    }
    while let Some((&"super", tail)) = rest.split_first() {
        base.pop();
        rest = tail;
    }
    for segment in rest {
        let mut deeper = base.clone();
        deeper.push((*segment).to_owned());
        if !files.contains_key(&deeper) {
            break;
        }
        base = deeper;
    }
    files.contains_key(&base).then_some(base)
}

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn no_import_cycle_between_files() {
    for root in ["src", "pki/src"] {
        let krate = Crate::read(&manifest().join(root));
        assert!(krate.files.len() > 5, "{root}: too few files found");
        if let Some(cycle) = Crate::cycle(&krate.edges) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("/")).collect();
            panic!("{root}: import cycle {}", names.join(" → "));
        }
    }
}

#[test]
fn no_import_cycle_between_folders() {
    for root in ["src", "pki/src"] {
        let krate = Crate::read(&manifest().join(root));
        if let Some(cycle) = Crate::cycle(&krate.folders()) {
            panic!("{root}: folder cycle {}", cycle.join(" → "));
        }
    }
}

#[test]
fn layers_import_only_what_they_may() {
    let krate = Crate::read(&manifest().join("src"));
    let folders = krate.folders();
    let allowed: [(&str, &[&str]); 6] = [
        // The protocol core knows no HTTP, tokens or configuration files.
        ("rfb", &["console"]),
        // The plain-types leaf imports nothing of the project.
        ("console", &[]),
        // Nor does the error-chain printer every layer may use.
        ("chain", &[]),
        // The relay is generic over its two streams and its filters.
        ("relay", &["rfb", "spice", "console", "websocket"]),
        // The SPICE link and message framing knows nothing of the project.
        ("spice", &[]),
        // RFC 6455 framing knows nothing of the project.
        ("websocket", &[]),
    ];
    for (layer, may) in allowed {
        let imports = folders.get(layer).cloned().unwrap_or_default();
        let extra: Vec<&String> = imports
            .iter()
            .filter(|m| !may.contains(&m.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{layer}/ imports {extra:?}; it may import only {may:?}"
        );
    }
}

/// The "does not import" rules of docs/ARCHITECTURE.md's module list.
#[test]
fn layers_do_not_import_what_they_may_not() {
    let krate = Crate::read(&manifest().join("src"));
    let folders = krate.folders();
    let forbidden: [(&str, &[&str]); 4] = [
        ("session", &["front"]),
        ("backend", &["front", "session", "token", "config"]),
        ("token", &["front", "session", "backend", "rfb", "config"]),
        // The configuration validates database URLs with token/ and imports no other part
        // of the data path.
        (
            "config",
            &[
                "front",
                "session",
                "backend",
                "rfb",
                "relay",
                "websocket",
                "spice",
            ],
        ),
    ];
    for (layer, not) in forbidden {
        let imports = folders.get(layer).cloned().unwrap_or_default();
        let wrong: Vec<&String> = imports
            .iter()
            .filter(|m| not.contains(&m.as_str()))
            .collect();
        assert!(
            wrong.is_empty(),
            "{layer}/ imports {wrong:?}, which it may not"
        );
    }
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let files: BTreeMap<Vec<String>, PathBuf> =
        [vec![], vec!["a".to_owned()], vec!["b".to_owned()]]
            .into_iter()
            .map(|m| (m, PathBuf::new()))
            .collect();
    let a = resolve(&files, &["b".to_owned()], "crate::a::Thing");
    let b = resolve(&files, &["a".to_owned()], "super::b::Other");
    assert_eq!(a, Some(vec!["a".to_owned()]));
    assert_eq!(b, Some(vec!["b".to_owned()]));
    let graph: BTreeMap<&str, BTreeSet<&str>> =
        [("a", BTreeSet::from(["b"])), ("b", BTreeSet::from(["a"]))].into();
    assert!(Crate::cycle(&graph).is_some());
    let mut paths = Vec::new();
    expand("", "super::{x, y::{Z, W as V}}", &mut paths);
    assert_eq!(paths, ["super::x", "super::y::Z", "super::y::W"]);
}

#[test]
fn no_file_outside_tests_is_over_400_lines() {
    let mut files = Vec::new();
    rust_files(&manifest().join("src"), &mut files);
    rust_files(&manifest().join("pki/src"), &mut files);
    for file in files {
        let test_file =
            file.ends_with("tests.rs") || file.components().any(|c| c.as_os_str() == "tests");
        let lines = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .count();
        assert!(
            test_file || lines <= 400,
            "{} has {lines} lines; split it along a seam a reader would name",
            file.display()
        );
    }
}

/// Functions of `text` (tests cut off) longer than `most` lines, as (name, lines): from an
/// `fn` line to the first `}` line at its indentation. A one-line declaration has none.
fn long_functions(text: &str, most: usize) -> Vec<(String, usize)> {
    let lines: Vec<&str> = without_inline_tests(text).lines().collect();
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ]
        .iter()
        .fold(trimmed, |rest, word| {
            rest.strip_prefix(word).unwrap_or(rest)
        });
        let Some(name) = signature.strip_prefix("fn ") else {
            continue;
        };
        if trimmed.ends_with(';') {
            continue;
        }
        let closing = format!("{indent}}}");
        if let Some(length) = lines[start + 1..].iter().position(|l| *l == closing) {
            if length + 2 > most {
                let name = name.split(['(', '<']).next().unwrap_or(name);
                long.push((name.to_owned(), length + 2));
            }
        }
    }
    long
}

#[test]
fn no_function_outside_tests_is_over_80_lines() {
    let mut files = Vec::new();
    rust_files(&manifest().join("src"), &mut files);
    rust_files(&manifest().join("pki/src"), &mut files);
    let mut long = Vec::new();
    for file in files {
        if file.ends_with("tests.rs") || file.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for (name, lines) in long_functions(&text, 80) {
            long.push(format!("{}: {name} has {lines} lines", file.display()));
        }
    }
    assert!(long.is_empty(), "split these into named steps: {long:#?}");
}

#[test]
fn the_length_check_sees_a_long_function() {
    let body = "    let x = 1;\n".repeat(80);
    let text = format!("pub async fn long(a: u8) {{\n{body}}}\n\nfn short() {{}}\n");
    assert_eq!(long_functions(&text, 80), [("long".to_owned(), 82)]);
    assert!(long_functions(&text, 82).is_empty());
}
