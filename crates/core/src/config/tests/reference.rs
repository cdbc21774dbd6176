//! `docs/configuration.md` against the declarations: every declared key is
//! documented with its type and default, and the page documents no key that
//! is not declared. The meaning cell starts with the key's one-line doc.

use crate::config::values::{Fallback, Key, Kind};
use crate::config::{augment, credentials, gateway, redirect, role, signing};

const PAGE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/configuration.md"
));

/// Every declared key with its documented path.
fn declared() -> Vec<(String, &'static Key)> {
    let sections: [(&str, &'static [Key]); 10] = [
        ("", role::KEYS),
        ("redirect.", redirect::KEYS),
        ("signing.", signing::KEYS),
        ("signing.buckets[].", signing::BUCKET_KEYS),
        ("signing.scope.", signing::SCOPE_KEYS),
        ("signing.credentials.", credentials::KEYS),
        ("gateway.", gateway::KEYS),
        ("gateway.presign.", gateway::PRESIGN_KEYS),
        ("gateway.decision_cache.", gateway::CACHE_KEYS),
        ("", augment::KEYS),
    ];
    sections
        .iter()
        .flat_map(|(prefix, keys)| keys.iter().map(move |k| (format!("{prefix}{}", k.name), k)))
        .collect()
}

/// The type column a kind is documented with.
fn type_cell(kind: Kind) -> String {
    match kind {
        Kind::Str => "string".into(),
        Kind::Bool => "boolean".into(),
        Kind::Uint(..) => "integer".into(),
        Kind::Duration(..) => "duration".into(),
        Kind::Strings => "array of strings".into(),
        Kind::Choice(names) => names
            .iter()
            .map(|n| format!("`\"{n}\"`"))
            .collect::<Vec<_>>()
            .join(" \\| "),
        Kind::Object => "object".into(),
        Kind::Objects => "array of objects".into(),
    }
}

/// The default column a default is documented with.
fn default_cell(default: Fallback) -> String {
    match default {
        Fallback::Required => "required".into(),
        Fallback::Unset => "none".into(),
        Fallback::Str(s) => format!("`\"{s}\"`"),
        Fallback::Uint(n) => format!("`{n}`"),
        Fallback::Bool(b) => format!("`{b}`"),
        Fallback::List(l) => format!(
            "`[{}]`",
            l.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Fallback::Derived(text) => text.into(),
    }
}

/// The cells of a table row, split at unescaped `|`.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push_str("\\|");
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter().map(|c| c.trim().to_string()).collect()
}

/// The page's key rows: `(key, type, default, meaning)`.
fn documented(page: &str) -> Vec<[String; 4]> {
    page.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let c = cells(l);
            assert_eq!(c.len(), 4, "a key row has four cells: {l}");
            [
                c[0].trim_matches('`').to_string(),
                c[1].clone(),
                c[2].clone(),
                c[3].clone(),
            ]
        })
        .collect()
}

/// What is wrong between `page` and the declarations, one line each.
fn disagreements(page: &str) -> Vec<String> {
    let rows = documented(page);
    let keys = declared();
    let mut problems = vec![];
    for (path, key) in &keys {
        match rows.iter().filter(|r| r[0] == *path).collect::<Vec<_>>()[..] {
            [] => problems.push(format!("`{path}` is declared but not documented")),
            [row] => {
                let (ty, default) = (type_cell(key.kind), default_cell(key.default));
                if row[1] != ty {
                    problems.push(format!("`{path}`: type is {ty}, the page says {}", row[1]));
                }
                if row[2] != default {
                    problems.push(format!(
                        "`{path}`: default is {default}, the page says {}",
                        row[2]
                    ));
                }
                if !row[3].starts_with(key.doc) {
                    problems.push(format!("`{path}`: meaning should start with {:?}", key.doc));
                }
            }
            _ => problems.push(format!("`{path}` is documented more than once")),
        }
    }
    for row in &rows {
        if !keys.iter().any(|(path, _)| *path == row[0]) {
            problems.push(format!("`{}` is documented but not declared", row[0]));
        }
    }
    problems
}

#[test]
fn the_reference_page_matches_the_declarations() {
    let problems = disagreements(PAGE);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_disagreement_is_found() {
    // The real page, changed in each way the test must catch.
    let changed_default = PAGE.replacen(
        "| `redirect.marker_ttl` | duration | `\"30s\"` |",
        "| `redirect.marker_ttl` | duration | `\"31s\"` |",
        1,
    );
    assert_ne!(changed_default, PAGE, "the row to change is on the page");
    assert_eq!(
        disagreements(&changed_default),
        ["`redirect.marker_ttl`: default is `\"30s\"`, the page says `\"31s\"`"]
    );
    let changed_type = PAGE.replacen(
        "| `redirect.max_kept_bytes` | integer |",
        "| `redirect.max_kept_bytes` | string |",
        1,
    );
    assert_eq!(disagreements(&changed_type).len(), 1);
    let extra = format!("{PAGE}\n| `redirect.bogus` | string | none | a key nobody reads |\n");
    assert_eq!(
        disagreements(&extra),
        ["`redirect.bogus` is documented but not declared"]
    );
    let missing: String = PAGE
        .lines()
        .filter(|l| !l.starts_with("| `header_backoff_cap`"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        disagreements(&missing),
        ["`header_backoff_cap` is declared but not documented"]
    );
}

/// Prints the rows the declarations expect (`cargo test -- --ignored
/// --nocapture print_rows`), to start a new key's row from.
#[test]
#[ignore]
fn print_rows() {
    for (path, key) in declared() {
        println!(
            "| `{path}` | {} | {} | {} |",
            type_cell(key.kind),
            default_cell(key.default),
            key.doc
        );
    }
}
