//! No import circle between the workspace's source files.
//!
//! The crate graph already keeps the layering (the core crate cannot name
//! proxy-wasm or the filter). Inside a crate the compiler allows circles, and
//! a circle means two files that can only be read, tested and changed
//! together. This test draws one node per source file and one edge per
//! `crate::`, `super::`, `self::` or child-module path the file's non-test
//! code names (re-exports included), and fails naming the circle it finds.
//! A `mod.rs` that re-exports its children is a facade: its children then
//! name their siblings (`super::sibling::X`), never the facade.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A crate's files: module path (`a::b`, "" for the root) → source.
type Files = BTreeMap<String, String>;

fn read_crate(src: &Path) -> Files {
    fn walk(dir: &Path, root: &Path, out: &mut Files) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                    parts.pop();
                }
                out.insert(parts.join("::"), fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut files = Files::new();
    walk(src, src, &mut files);
    files
}

/// The production part of a source: up to its first `#[cfg(test)]`, with
/// comments and string literals blanked.
fn production_code(source: &str) -> String {
    let source = source.split("#[cfg(test)]").next().unwrap_or("");
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if bytes.get(i + 2) == Some(&b'\'') => {
                i += 3;
                out.push_str("' '");
            }
            b'\'' if bytes.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < bytes.len() && bytes[i] != b'\'' {
                    i += 1;
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// Every path the code names: `use` trees expanded, plus paths in the code.
fn named_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    let mut body = String::new();
    // `use` statements, with their `{…}` groups expanded.
    while let Some(at) = find_word(rest, "use") {
        body.push_str(&rest[..at]);
        let tail = &rest[at + 3..];
        let end = tail.find(';').unwrap_or(tail.len());
        expand_use(tail[..end].trim(), &mut Vec::new(), &mut paths);
        rest = &tail[(end + 1).min(tail.len())..];
    }
    body.push_str(rest);
    // Paths in code: ident(::ident)+.
    let b = body.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if is_ident_start(b[i]) && (i == 0 || !is_ident(b[i - 1]) && b[i - 1] != b':') {
            let start = i;
            while i < b.len() && (is_ident(b[i]) || (b[i] == b':' && b.get(i + 1) == Some(&b':'))) {
                i += if b[i] == b':' { 2 } else { 1 };
            }
            let path: Vec<String> = body[start..i]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if path.len() > 1 {
                paths.push(path);
            }
        } else {
            i += 1;
        }
    }
    paths
}

fn find_word(s: &str, word: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(p) = s[from..].find(word) {
        let at = from + p;
        let before = at == 0 || !is_ident(b[at - 1]);
        let after = b.get(at + word.len()).is_none_or(|c| !is_ident(*c));
        if before && after {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

fn expand_use(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        let mut items = Vec::new();
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&inner[start..i]);
                    start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&inner[start..]);
        let len = prefix.len();
        prefix.extend(head);
        for item in items.into_iter().filter(|s| !s.trim().is_empty()) {
            expand_use(item, prefix, out);
        }
        prefix.truncate(len);
    } else {
        let tree = tree.split(" as ").next().unwrap_or(tree);
        let mut path = prefix.clone();
        path.extend(
            tree.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
                .map(str::to_string),
        );
        out.push(path);
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The file a path leads to from module `from`, if it is one of this crate's.
fn resolve(files: &Files, from: &str, path: &[String]) -> Option<String> {
    let here: Vec<&str> = from.split("::").filter(|s| !s.is_empty()).collect();
    let (mut module, rest): (Vec<&str>, &[String]) = match path.first().map(String::as_str) {
        Some("crate") => (vec![], &path[1..]),
        Some("self") => (here.clone(), &path[1..]),
        Some("super") => {
            let mut m = here.clone();
            let mut rest = path;
            while rest.first().map(String::as_str) == Some("super") {
                m.pop();
                rest = &rest[1..];
            }
            (m, rest)
        }
        Some(first) => {
            // A child module of this one (2018 relative path).
            let child = [here.join("::"), first.to_string()]
                .iter()
                .filter(|s| !s.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join("::");
            if !files.contains_key(&child) {
                return None;
            }
            (here.clone(), path)
        }
        None => return None,
    };
    // The deepest module file the remaining segments name.
    for seg in rest {
        let mut next = module.clone();
        next.push(seg);
        if files.contains_key(&next.join("::")) {
            module = next;
        } else {
            break;
        }
    }
    let target = module.join("::");
    (target != from && files.contains_key(&target)).then_some(target)
}

fn edges(files: &Files) -> BTreeMap<String, BTreeSet<String>> {
    files
        .iter()
        .map(|(module, source)| {
            let code = production_code(source);
            let targets = named_paths(&code)
                .iter()
                .filter_map(|p| resolve(files, module, p))
                .collect();
            (module.clone(), targets)
        })
        .collect()
}

/// One circle, as the files along it, if the graph has any.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut circle = stack[from..].to_vec();
                    circle.push(next.clone());
                    return Some(circle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if !state.contains_key(node.as_str()) {
            if let Some(c) = visit(node, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Every group of files that reach each other (the circles, whole).
fn tangles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(n) = todo.pop() {
            for next in graph.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|n| (n, reach(n))).collect();
    let mut groups: Vec<BTreeSet<String>> = Vec::new();
    for (n, r) in &reaches {
        if !r.contains(*n) || groups.iter().any(|g| g.contains(*n)) {
            continue;
        }
        groups.push(
            r.iter()
                .filter(|m| reaches.get(m).is_some_and(|back| back.contains(*n)))
                .cloned()
                .collect(),
        );
    }
    groups
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn no_source_file_is_part_of_an_import_circle() {
    for krate in ["crates/core/src", "crates/filter/src"] {
        let files = read_crate(&workspace().join(krate));
        assert!(files.len() > 5, "{krate}: no sources found");
        let graph = edges(&files);
        if let Some(circle) = find_circle(&graph) {
            let all: Vec<String> = tangles(&graph)
                .iter()
                .map(|g| g.iter().cloned().collect::<Vec<_>>().join(", "))
                .collect();
            panic!(
                "{krate}: import circle: {}\nall files in circles, by group:\n  {}",
                circle.join(" -> "),
                all.join("\n  ")
            );
        }
    }
}

fn synthetic(sources: &[(&str, &str)]) -> Files {
    sources
        .iter()
        .map(|(m, s)| (m.to_string(), s.to_string()))
        .collect()
}

#[test]
fn the_check_sees_circles_through_super_children_and_re_exports() {
    // A facade whose child names it back.
    let facade = synthetic(&[
        ("", "pub mod a;"),
        ("a", "mod b;\npub use b::Thing;\npub struct Base;"),
        ("a::b", "use super::Base;\npub struct Thing;"),
    ]);
    assert_eq!(
        find_circle(&edges(&facade)),
        Some(vec!["a".into(), "a::b".into(), "a".into()])
    );
    // Two siblings through a `use` group and a path in code.
    let siblings = synthetic(&[
        ("", "pub mod x; pub mod y;"),
        ("x", "use crate::{y::{self, Y}};\npub struct X;"),
        ("y", "fn f() -> crate::x::X { todo!() }\npub struct Y;"),
    ]);
    assert!(find_circle(&edges(&siblings)).is_some());
    // Comments, strings and tests do not count; sibling paths are fine.
    let clean = synthetic(&[
        ("", "pub mod a;"),
        ("a", "mod b; mod c;\npub use b::B;\n// use crate::a::b;\n"),
        (
            "a::b",
            "use super::c::C;\nconst S: &str = \"super::B\";\npub struct B;",
        ),
        (
            "a::c",
            "pub struct C;\n#[cfg(test)]\nmod tests { use crate::a::b::B; }",
        ),
    ]);
    assert_eq!(find_circle(&edges(&clean)), None);
}
