//! Native detectors (SQL injection, XSS, command injection, path traversal): any value, never a panic, and
//! linear time (run with `-timeout=` so a super-linear input is reported). The first byte picks the detector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_detect::{cmdi, sqli, traversal, xss};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, value)) = data.split_first() else { return };
    match pick % 4 {
        0 => drop(sqli::detect(value)),
        1 => drop(xss::detect(value)),
        2 => drop(cmdi::detect(value)),
        _ => drop(traversal::detect(value)),
    }
});
