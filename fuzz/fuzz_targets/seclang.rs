//! SecLang parser and compiler: any text either loads or fails with a `LoadError`, never a panic or a hang.
//! A rule set that loads is also run against one fixed request, so the compiled rules (operators with fuzzed
//! parameters, actions, macros) are exercised too.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use portcullis_waf::{Engine, TxInfo};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // `Include` reads the file system; a fuzzer that finds `/dev/zero` only proves that files can be large.
    if text.to_ascii_lowercase().contains("include") {
        return;
    }
    let Ok(engine) = Engine::from_str(text, "fuzz.conf") else { return };
    let engine = Arc::new(engine);
    let info = TxInfo {
        unique_id: "fuzz".into(),
        client_addr: [127, 0, 0, 1].into(),
        client_port: 40000,
        server_addr: [127, 0, 0, 1].into(),
        server_port: 8080,
    };
    let mut tx = engine.transaction(info);
    tx.request_line("GET", "/a/b.php?x=1%27+or+1=1&y=%3Cscript%3E", "HTTP/1.1");
    tx.request_header(b"Host", b"example.com");
    tx.request_header(b"Cookie", b"s=abc; t=<x>");
    tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    let _ = tx.process_request_headers();
    let _ = tx.append_request_body(b"a=1&b=..%2f..%2fetc%2fpasswd");
    let _ = tx.process_request_body();
});
