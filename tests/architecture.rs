//! The layering the tree shows, checked rather than trusted: `src/core` (the
//! pure logic) never reaches the host (`proxy_wasm`, `hostcalls`, any
//! `crate::host` module), the host layer is compiled for wasm only, and
//! neither layer has an import cycle between its modules.
//!
//! Source is read as text: comments and string literals are blanked out,
//! `use` trees are expanded, and every `crate::` / `super::` / `self::` path
//! is resolved against the module the file (or inline `mod`) defines. The
//! checker's own tests feed it bad sources, so it is known to fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Words that only host code may contain.
const HOST_ONLY: [&str; 4] = [
    "proxy_wasm",
    "hostcalls",
    "crate::host",
    "super::super::host",
];

#[test]
fn core_never_imports_the_host() {
    let files = sources("core");
    assert!(files.len() >= 8, "src/core looks empty: {files:?}");
    let mut problems = vec![];
    for (path, module) in &files {
        let text = fs::read_to_string(path).unwrap();
        problems.extend(
            host_references(&text, module)
                .into_iter()
                .map(|p| format!("{}: {p}", relative(path))),
        );
    }
    assert!(
        problems.is_empty(),
        "src/core must not reach the host layer:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn host_modules_have_no_import_cycle() {
    let files = sources("host");
    assert!(files.len() >= 8, "src/host looks empty: {files:?}");
    let graph = graph(&files, "host");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in src/host: {}", cycle.join(" -> "));
    }
}

#[test]
fn core_modules_have_no_import_cycle() {
    let files = sources("core");
    let graph = graph(&files, "core");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("import cycle in src/core: {}", cycle.join(" -> "));
    }
}

#[test]
fn lib_only_wires_and_the_host_is_wasm_only() {
    let text = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let lib = code_only(&text);
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let host = lines
        .iter()
        .position(|l| *l == "mod host;")
        .expect("lib.rs declares `mod host;`");
    assert!(
        host > 0 && lines[host - 1] == "#[cfg(target_arch = \"wasm32\")]",
        "`mod host;` must be compiled for wasm only"
    );
    for item in [
        "fn ",
        "struct ",
        "enum ",
        "impl ",
        "trait ",
        "pub use crate::host",
    ] {
        assert!(!lib.contains(item), "lib.rs is wiring only, found `{item}`");
    }
}

// ---------------------------------------------------------------------------
// Checks, on text (so that their tests can feed them anything)

/// Host references in one core file whose module path is `module`.
fn host_references(text: &str, module: &[String]) -> Vec<String> {
    let code = code_only(text);
    let mut found = vec![];
    for (n, line) in code.lines().enumerate() {
        for word in HOST_ONLY {
            if contains_word(line, word) {
                found.push(format!("line {}: mentions `{word}`", n + 1));
            }
        }
    }
    for (line, path) in paths(&code, module) {
        if path.first().map(String::as_str) == Some("host") {
            found.push(format!("line {line}: imports `crate::{}`", path.join("::")));
        }
    }
    found
}

/// `word` in `line`, not as part of a longer identifier.
fn contains_word(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Module -> modules it imports, among the top-level modules of `layer`.
fn graph(files: &[(PathBuf, Vec<String>)], layer: &str) -> BTreeMap<String, BTreeSet<String>> {
    let names: BTreeSet<String> = files
        .iter()
        .filter_map(|(_, m)| m.get(1).cloned())
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, module) in files {
        let Some(me) = module.get(1) else { continue };
        let text = fs::read_to_string(path).unwrap();
        let edges = graph.entry(me.clone()).or_default();
        for to in imports(&text, module, layer, &names) {
            if &to != me {
                edges.insert(to);
            }
        }
    }
    graph
}

/// The top-level modules of `layer` that the file at `module` imports.
/// `names` lets `crate::config` (a crate-root re-export of `core::config`)
/// count as `core::config`.
fn imports(
    text: &str,
    module: &[String],
    layer: &str,
    names: &BTreeSet<String>,
) -> BTreeSet<String> {
    let code = code_only(text);
    paths(&code, module)
        .into_iter()
        .filter_map(|(_, p)| match p.as_slice() {
            [first, second, ..] if first == layer => Some(second.clone()),
            [first, ..] if names.contains(first) && layer == "core" => Some(first.clone()),
            _ => None,
        })
        .collect()
}

/// A cycle in `graph`, as the list of modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut vec![], &mut done))
}

// ---------------------------------------------------------------------------
// Reading Rust source as text

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn relative(path: &Path) -> String {
    let root = root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every `.rs` file under `src/<layer>`, with the module path it defines
/// (`src/core/config/reader.rs` -> `["core", "config", "reader"]`).
fn sources(layer: &str) -> Vec<(PathBuf, Vec<String>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = root().join("src");
    let mut files = vec![];
    walk(&src.join(layer), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let rel = path.strip_prefix(&src).unwrap().with_extension("");
            let mut module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.last().map(String::as_str) == Some("mod") {
                module.pop();
            }
            (path, module)
        })
        .collect()
}

/// The source with comments removed and string and character literals
/// emptied (line breaks kept, so line numbers still match).
fn code_only(text: &str) -> String {
    let s: Vec<char> = text.chars().collect();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if s[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r'
            && (i == 0 || !ident(s[i - 1]) || (s[i - 1] == 'b' && (i < 2 || !ident(s[i - 2]))))
            && matches!(next, Some('"') | Some('#'))
        {
            // Raw string r"..." / r#"..."#, or an identifier starting with r.
            let mut j = i + 1;
            while s.get(j) == Some(&'#') {
                j += 1;
            }
            if s.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            j += 1;
            loop {
                match s.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| s.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    i += 1;
                }
                if s.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            out.push_str("\"\"");
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{0}'), or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                out.push_str("' '");
                i += 1;
            } else if s.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Path,
    Punct(char),
}

/// Identifiers, `::` and single punctuation characters, with line numbers.
fn tokens(code: &str) -> Vec<(usize, Token)> {
    let mut out = vec![];
    for (n, line) in code.lines().enumerate() {
        let s: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            if c.is_ascii_alphabetic() || c == '_' || c == '$' {
                let start = i;
                i += 1;
                while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == '_') {
                    i += 1;
                }
                let word: String = s[start..i].iter().collect();
                out.push((
                    n + 1,
                    Token::Ident(word.trim_start_matches('$').to_string()),
                ));
            } else if c == ':' && s.get(i + 1) == Some(&':') {
                out.push((n + 1, Token::Path));
                i += 2;
            } else {
                if !c.is_whitespace() {
                    out.push((n + 1, Token::Punct(c)));
                }
                i += 1;
            }
        }
    }
    out
}

/// Every path that starts at `crate`, `super` or `self`, resolved to a path
/// from the crate root, with its line: `use` trees expanded, inline `mod`
/// blocks followed.
fn paths(code: &str, file_module: &[String]) -> Vec<(usize, Vec<String>)> {
    let toks = tokens(code);
    let mut out = vec![];
    // Inline modules: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = vec![];
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let (line, tok) = &toks[i];
        let module = || {
            let mut m = file_module.to_vec();
            m.extend(inline.iter().map(|(n, _)| n.clone()));
            m
        };
        match tok {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(w) if w == "mod" => {
                if let (Some((_, Token::Ident(name))), Some((_, Token::Punct('{')))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth + 1));
                }
            }
            Token::Ident(w) if w == "use" => {
                let end = (i..toks.len())
                    .find(|&j| toks[j].1 == Token::Punct(';'))
                    .unwrap_or(toks.len());
                let mut flat = vec![];
                use_tree(&toks[i + 1..end], &[], &mut flat);
                let here = module();
                out.extend(
                    flat.into_iter()
                        .filter_map(|p| Some((*line, resolve(&p, &here)?))),
                );
                i = end;
                continue;
            }
            Token::Ident(w) if matches!(w.as_str(), "crate" | "super" | "self") => {
                let after_path = i > 0 && toks[i - 1].1 == Token::Path;
                if !after_path && toks.get(i + 1).map(|t| &t.1) == Some(&Token::Path) {
                    let mut p = vec![w.clone()];
                    let mut j = i + 1;
                    while let (Some((_, Token::Path)), Some((_, Token::Ident(seg)))) =
                        (toks.get(j), toks.get(j + 1))
                    {
                        p.push(seg.clone());
                        j += 2;
                    }
                    if let Some(r) = resolve(&p, &module()) {
                        out.push((*line, r));
                    }
                    i = j;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Expands a `use` tree (`a::{b, c::{self, d as e}, f::*}`) into flat paths
/// (`a::b`, `a::c`, `a::c::d`, `a::f`).
fn use_tree(toks: &[(usize, Token)], prefix: &[String], out: &mut Vec<Vec<String>>) {
    for item in split_group(toks) {
        let mut path = prefix.to_vec();
        let mut grouped = false;
        for (i, (_, tok)) in item.iter().enumerate() {
            match tok {
                Token::Ident(w) if w == "as" => break,
                // `{self, ...}` names the group's own prefix.
                Token::Ident(w) if w == "self" && i == 0 && !prefix.is_empty() => {}
                Token::Ident(w) => path.push(w.clone()),
                Token::Punct('{') => {
                    let end = item.len() - 1; // split_group keeps groups whole
                    use_tree(&item[i + 1..end], &path, out);
                    grouped = true;
                    break;
                }
                _ => {} // `::`, `*`
            }
        }
        if !grouped && !path.is_empty() {
            out.push(path);
        }
    }
}

/// The comma-separated items of a `use` group, each with its nested groups.
fn split_group(toks: &[(usize, Token)]) -> Vec<&[(usize, Token)]> {
    let mut items = vec![];
    let (mut depth, mut start) = (0i32, 0);
    for (j, (_, t)) in toks.iter().enumerate() {
        match t {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                items.push(&toks[start..j]);
                start = j + 1;
            }
            _ => {}
        }
    }
    items.push(&toks[start..]);
    items.retain(|i| !i.is_empty());
    items
}

/// A path from the crate root, when `path` starts at `crate`, `super` or `self`.
fn resolve(path: &[String], module: &[String]) -> Option<Vec<String>> {
    let mut segs = path.iter().peekable();
    let mut at: Vec<String> = match segs.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segs.next();
            vec![]
        }
        Some("super") | Some("self") => module.to_vec(),
        _ => return None,
    };
    while let Some(s) = segs.peek() {
        match s.as_str() {
            "super" => {
                at.pop();
            }
            "self" => {}
            _ => break,
        }
        segs.next();
    }
    at.extend(segs.cloned());
    Some(at)
}

// ---------------------------------------------------------------------------
// The checker's own tests: it does fail on what it is meant to catch.

fn m(path: &str) -> Vec<String> {
    path.split("::").map(str::to_string).collect()
}

#[test]
fn checker_catches_host_references_in_core() {
    let module = m("core::storage");
    for bad in [
        "use proxy_wasm::hostcalls;",
        "fn f() { let _ = ::proxy_wasm::types::Action::Continue; }",
        "use crate::host::shared::Shared;",
        "use crate::{core::config, host::shared};",
        "use crate::{core, host};",
        "use super::super::host::metrics;",
        "use super::super::{host::clock};",
        "fn f() -> u64 { crate::host::clock::now_ms() }",
        "fn f() { hostcalls::get_current_time(); }",
        "mod tests {\n    use super::super::super::host::edge;\n}",
    ] {
        assert!(
            !host_references(bad, &module).is_empty(),
            "not caught: {bad}"
        );
    }
    for fine in [
        "use crate::core::config::Config;",
        "use super::sigv4::{self, Credentials};",
        "// proxy_wasm is never used here, crate::host neither",
        "/* use crate::host::x; */ fn f() {}",
        r#"const HOST: &str = "crate::host::x and proxy_wasm";"#,
        r##"const J: &str = r#"{"host": "proxy_wasm"}"#;"##,
        "fn host_header(host: &str) -> &str { host }",
        "let c = '\"'; let host = 1;",
    ] {
        assert!(
            host_references(fine, &module).is_empty(),
            "false alarm: {fine}: {:?}",
            host_references(fine, &module)
        );
    }
}

#[test]
fn checker_catches_cycles() {
    let names: BTreeSet<String> = BTreeSet::new();
    let edges = |text: &str, me: &str| imports(text, &m(&format!("host::{me}")), "host", &names);
    assert_eq!(
        edges(
            "use crate::host::shared::{Cached, Shared};\nuse super::{metrics::Counter, clock};\nfn f() { crate::host::secret::marker_secret(); }",
            "http"
        ),
        m("clock::metrics::secret::shared").into_iter().collect()
    );
    fn add(graph: &mut BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) {
        graph
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
        graph.entry(to.to_string()).or_default();
    }
    let mut graph = BTreeMap::new();
    add(&mut graph, "root", "edge");
    add(&mut graph, "edge", "http");
    add(&mut graph, "http", "shared");
    assert_eq!(find_cycle(&graph), None);
    add(&mut graph, "shared", "edge");
    assert_eq!(find_cycle(&graph), Some(m("edge::http::shared::edge")));
}
