//! The module exports only the callbacks asset-gate handles (`WASM_EXPORTS`
//! in the Makefile): Envoy enters the VM for every exported callback, even
//! where the SDK's default does nothing, so the build drops the others. These
//! tests check the built module against that list, and that no context
//! implements a callback the build drops (it would silently never run).

use std::collections::BTreeSet;
use std::fs;

/// The SDK's trait methods and the export through which Envoy calls each.
const CALLBACKS: [(&str, &str); 25] = [
    ("on_vm_start", "proxy_on_vm_start"),
    ("on_configure", "proxy_on_configure"),
    ("on_tick", "proxy_on_tick"),
    ("on_queue_ready", "proxy_on_queue_ready"),
    ("on_done", "proxy_on_done"),
    ("on_log", "proxy_on_log"),
    ("on_http_call_response", "proxy_on_http_call_response"),
    ("on_grpc_call_response", "proxy_on_grpc_close"),
    ("on_grpc_stream_message", "proxy_on_grpc_receive"),
    (
        "on_grpc_stream_initial_metadata",
        "proxy_on_grpc_receive_initial_metadata",
    ),
    (
        "on_grpc_stream_trailing_metadata",
        "proxy_on_grpc_receive_trailing_metadata",
    ),
    ("on_grpc_stream_close", "proxy_on_grpc_close"),
    ("on_foreign_function", "proxy_on_foreign_function"),
    ("on_new_connection", "proxy_on_new_connection"),
    ("on_downstream_data", "proxy_on_downstream_data"),
    (
        "on_downstream_close",
        "proxy_on_downstream_connection_close",
    ),
    ("on_upstream_data", "proxy_on_upstream_data"),
    ("on_upstream_close", "proxy_on_upstream_connection_close"),
    ("on_http_request_headers", "proxy_on_request_headers"),
    ("on_http_request_body", "proxy_on_request_body"),
    ("on_http_request_trailers", "proxy_on_request_trailers"),
    ("on_http_response_headers", "proxy_on_response_headers"),
    ("on_http_response_body", "proxy_on_response_body"),
    ("on_http_response_trailers", "proxy_on_response_trailers"),
    ("create_http_context", "proxy_on_context_create"),
];

/// `WASM_EXPORTS` as the Makefile spells it (continuation lines joined).
fn listed_exports() -> BTreeSet<String> {
    let makefile = fs::read_to_string(crate::harness::repo().join("Makefile")).unwrap();
    let joined = makefile.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.starts_with("WASM_EXPORTS"))
        .expect("the Makefile defines WASM_EXPORTS");
    let (_, names) = line.split_once(":=").expect("WASM_EXPORTS :=");
    names.split_whitespace().map(str::to_owned).collect()
}

fn leb128(bytes: &[u8], at: &mut usize) -> usize {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let b = bytes[*at];
        *at += 1;
        value |= usize::from(b & 0x7f) << shift;
        shift += 7;
        if b < 0x80 {
            return value;
        }
    }
}

/// The names in a module's export section.
fn module_exports(wasm: &[u8]) -> BTreeSet<String> {
    assert_eq!(wasm.get(..4), Some(&b"\0asm"[..]), "not a wasm module");
    let mut at = 8;
    let mut names = BTreeSet::new();
    while at < wasm.len() {
        let id = wasm[at];
        at += 1;
        let size = leb128(wasm, &mut at);
        let end = at + size;
        if id == 7 {
            let mut p = at;
            for _ in 0..leb128(wasm, &mut p) {
                let len = leb128(wasm, &mut p);
                names.insert(String::from_utf8(wasm[p..p + len].to_vec()).unwrap());
                p += len;
                p += 1; // kind
                leb128(wasm, &mut p); // index
            }
        }
        at = end;
    }
    names
}

/// Trait methods implemented in `source` whose export the build drops.
fn dropped_callbacks(source: &str, exported: &BTreeSet<String>) -> Vec<&'static str> {
    CALLBACKS
        .iter()
        .filter(|(method, export)| {
            !exported.contains(*export) && source.split(&format!("fn {method}(")).nth(1).is_some()
        })
        .map(|(method, _)| *method)
        .collect()
}

#[test]
fn the_module_exports_exactly_the_listed_callbacks() {
    let listed = listed_exports();
    assert!(listed.contains("proxy_on_request_headers"), "{listed:?}");
    let built = module_exports(&fs::read(crate::harness::wasm()).unwrap());
    assert_eq!(
        built, listed,
        "dist/asset_gate.wasm exports differ from the Makefile's WASM_EXPORTS"
    );
    for dropped in ["proxy_on_log", "proxy_on_done"] {
        assert!(!built.contains(dropped), "{dropped} is exported");
    }
}

#[test]
fn no_context_implements_a_dropped_callback() {
    let listed = listed_exports();
    let mut problems = vec![];
    let dir = crate::harness::repo().join("crates/filter/src");
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = fs::read_to_string(&path).unwrap();
        for method in dropped_callbacks(&source, &listed) {
            problems.push(format!("{}: fn {method}", path.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "these callbacks would never run (add their export to WASM_EXPORTS):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checks_catch_a_dropped_callback_and_a_stray_export() {
    let listed = listed_exports();
    let source = "impl HttpContext for X {\n    fn on_log(&mut self) {}\n    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action { todo!() }\n}";
    assert_eq!(dropped_callbacks(source, &listed), vec!["on_log"]);
    // A module exporting one more name than listed differs from the list.
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    let name = b"proxy_on_log";
    let mut section = vec![1, name.len() as u8];
    section.extend_from_slice(name);
    section.extend_from_slice(&[0, 0]);
    module.push(7);
    module.push(section.len() as u8);
    module.extend_from_slice(&section);
    let exports = module_exports(&module);
    assert_eq!(exports, BTreeSet::from(["proxy_on_log".to_string()]));
    assert_ne!(exports, listed);
}
