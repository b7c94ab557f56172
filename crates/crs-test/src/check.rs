//! Judges one stage from what came back: the response (or the error) and the log lines between its markers.
//! Same rules as go-ftw: with `expect_error` only the presence of an error counts; otherwise status,
//! `response_contains`, then the log (`match_regex`, all `expect_ids`, `isolated`, `no_match_regex`, no
//! `no_expect_ids`). Unlike go-ftw, every failed expectation is reported, not just the first.

use regex::bytes::Regex;

use crate::client::Response;
use crate::suite::Output;
use crate::waflog;

/// Returns `Ok(())` when the stage met its expectations, else one line naming each unmet expectation.
pub fn judge(expected: &Output, response: &Result<Response, String>, log_lines: &[Vec<u8>]) -> Result<(), String> {
    if expected.expect_error == Some(true) {
        return match response {
            Err(_) => Ok(()),
            Ok(r) => Err(format!("expected a connection/protocol error, got status {}", r.status)),
        };
    }
    let response = match response {
        Ok(r) => r,
        Err(e) => return Err(format!("request failed: {e}")),
    };
    let mut problems = Vec::new();
    if let Some(status) = &expected.status {
        if !status.accepts(response.status) {
            problems.push(format!("status {} (expected {status})", response.status));
        }
    }
    if let Some(needle) = expected.response_contains.as_deref().filter(|n| !n.is_empty()) {
        if !String::from_utf8_lossy(&response.raw).contains(needle) {
            problems.push(format!("response does not contain `{needle}`"));
        }
    }
    let log = &expected.log;
    if let Some(re) = &log.match_regex {
        if !any_line_matches(re, log_lines)? {
            problems.push(format!("no log line matches `{re}`"));
        }
    }
    let ids = waflog::rule_ids(log_lines);
    let missing: Vec<String> = log.expect_ids.iter().filter(|id| !ids.contains(id)).map(u32::to_string).collect();
    if !missing.is_empty() {
        // What did fire is the first thing an engine developer needs to see next to what did not.
        let logged: Vec<String> = ids.iter().map(u32::to_string).collect();
        let logged = if logged.is_empty() { "none".to_owned() } else { logged.join(", ") };
        problems.push(format!("missing expected id {} (logged: {logged})", missing.join(", ")));
    }
    if expected.isolated == Some(true) && ids.len() != 1 {
        let all: Vec<String> = ids.iter().map(u32::to_string).collect();
        problems.push(format!("isolated test triggered [{}]", all.join(", ")));
    }
    if let Some(re) = &log.no_match_regex {
        if any_line_matches(re, log_lines)? {
            problems.push(format!("a log line matches forbidden `{re}`"));
        }
    }
    let unexpected: Vec<String> = log.no_expect_ids.iter().filter(|id| ids.contains(id)).map(u32::to_string).collect();
    if !unexpected.is_empty() {
        problems.push(format!("unexpected id {}", unexpected.join(", ")));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn any_line_matches(pattern: &str, lines: &[Vec<u8>]) -> Result<bool, String> {
    let re = Regex::new(pattern).map_err(|e| format!("bad log regex `{pattern}`: {e}"))?;
    Ok(lines.iter().any(|l| re.is_match(l)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::{LogExpect, StatusExpect};

    fn ok(status: u16) -> Result<Response, String> {
        Ok(Response { status, headers: vec![], body: b"hi".to_vec(), raw: b"HTTP/1.1 200 OK\r\n\r\nhi".to_vec() })
    }

    fn lines(ids: &[u32]) -> Vec<Vec<u8>> {
        ids.iter().map(|id| format!("[id \"{id}\"] [msg \"x\"]").into_bytes()).collect()
    }

    #[test]
    fn ids_status_and_regexes() {
        let out = Output {
            status: Some(StatusExpect::AnyOf(vec![200, 403])),
            log: LogExpect { expect_ids: vec![942100], no_expect_ids: vec![920350], ..LogExpect::default() },
            ..Output::default()
        };
        assert_eq!(judge(&out, &ok(200), &lines(&[942100, 949110])), Ok(()));
        assert_eq!(
            judge(&out, &ok(200), &lines(&[949110, 920100])).unwrap_err(),
            "missing expected id 942100 (logged: 920100, 949110)"
        );
        assert_eq!(judge(&out, &ok(200), &lines(&[])).unwrap_err(), "missing expected id 942100 (logged: none)");
        assert_eq!(
            judge(&out, &ok(500), &lines(&[942100, 920350])).unwrap_err(),
            "status 500 (expected one of [200, 403]); unexpected id 920350"
        );
        let out = Output {
            response_contains: Some("hi".into()),
            log: LogExpect { match_regex: Some(r#"msg "x""#.into()), ..LogExpect::default() },
            ..Output::default()
        };
        assert_eq!(judge(&out, &ok(200), &lines(&[1])), Ok(()));
        assert!(judge(&out, &ok(200), &[]).unwrap_err().contains("no log line matches"));
    }

    #[test]
    fn expect_error_and_isolated() {
        let out = Output { expect_error: Some(true), ..Output::default() };
        assert_eq!(judge(&out, &Err("closed".into()), &[]), Ok(()));
        assert!(judge(&out, &ok(400), &[]).unwrap_err().contains("got status 400"));
        assert!(judge(&Output::default(), &Err("closed".into()), &[]).unwrap_err().contains("request failed: closed"));
        let out = Output {
            isolated: Some(true),
            log: LogExpect { expect_ids: vec![1], ..LogExpect::default() },
            ..Output::default()
        };
        assert_eq!(judge(&out, &ok(200), &lines(&[1])), Ok(()));
        assert!(judge(&out, &ok(200), &lines(&[1, 2])).unwrap_err().contains("isolated test triggered [1, 2]"));
    }
}
