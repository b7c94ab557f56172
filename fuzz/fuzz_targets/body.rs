//! Request body processors (URL-encoded, JSON, multipart, XML): any body, never a panic or a hang, and
//! memory bounded by `BodyLimits`. The first byte picks the processor; for multipart the bytes up to the
//! first newline are the Content-Type header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_waf::body::{multipart_boundary, parse_json, parse_multipart, parse_urlencoded, parse_xml, BodyLimits};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let limits = BodyLimits::default();
    match pick % 4 {
        0 => drop(parse_urlencoded(body, &limits)),
        1 => drop(parse_json(body, &limits)),
        2 => {
            let (ct, body) = match body.iter().position(|&b| b == b'\n') {
                Some(i) => (&body[..i], &body[i + 1..]),
                None => (&b"multipart/form-data; boundary=xyz"[..], body),
            };
            let _ = multipart_boundary(ct);
            let parsed = parse_multipart(body, ct, &limits);
            drop(parsed.into_owned());
        }
        _ => drop(parse_xml(body, &limits)),
    }
});
