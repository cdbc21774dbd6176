//! The git revision the module is built from, for its startup log line:
//! `ASSET_GATE_REVISION` from the environment when set (a build without
//! git, e.g. from a source archive), else `git rev-parse --short=12 HEAD`
//! with `-dirty` when the tree has changes, else `unknown`. Nothing else of
//! the build machine (no path, no time) reaches the module.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=ASSET_GATE_REVISION");
    let revision = match std::env::var("ASSET_GATE_REVISION") {
        Ok(r) if !r.trim().is_empty() => r.trim().to_string(),
        _ => from_git().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=ASSET_GATE_REVISION={revision}");
}

/// Git's answer, trimmed, when git runs and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn from_git() -> Option<String> {
    // Only this repository's git: sources unpacked inside another
    // repository's tree are not that repository's HEAD.
    let top = git(&["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    if !same(Path::new(&top), Path::new("../..")) {
        return None;
    }
    let head = git(&["rev-parse", "--short=12", "HEAD"]).filter(|h| !h.is_empty())?;
    watch_git();
    // Without optional locks git leaves the index as it is: a rewritten index
    // would make cargo run this script (and rebuild the module) every time.
    let status = git(&["--no-optional-locks", "status", "--porcelain"]);
    let dirty = status.is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

/// Reruns this script when HEAD moves or the tree changes. `--git-path`
/// resolves each file where git keeps it, in a worktree too (where `.git` is
/// a file: HEAD and the index are the worktree's own, the refs are in the
/// main repository's directory). Only files that exist are named: cargo
/// reruns a script on every build for a missing one.
fn watch_git() {
    let mut files = vec!["HEAD".to_string(), "index".into(), "packed-refs".into()];
    // The branch HEAD points to (none when detached).
    files.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    for file in files {
        if let Some(path) = git(&["rev-parse", "--git-path", &file]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    // Edits not yet staged change no git file: watch the sources too (an
    // edit elsewhere in the tree is caught by the next change to the index).
    for path in ["../../crates", "../../Cargo.toml", "../../Cargo.lock"] {
        if Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
