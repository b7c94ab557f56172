//! Why the WAF refused (or nearly refused) a request: the rule matches of the WAF's match log, by request id.
//!
//! The harness points `[waf] log` at a temp file when the config has none, and reads it once the run is over.
//! Lines are ModSecurity style: `... [id "942100"] [msg "SQL Injection Attack Detected via libinjection"] ...
//! [unique_id "<request id>"]`; the request id is the one the gateway returns in `X-Request-Id`.

use std::collections::HashMap;

/// Rule matches per request id, in log order, each `id` or `id (msg)`, without duplicates.
pub fn parse(text: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for line in text.lines() {
        let (Some(uid), Some(id)) = (field(line, "unique_id"), field(line, "id")) else { continue };
        let hit = match field(line, "msg") {
            Some(m) if !m.is_empty() => format!("{id} ({m})"),
            _ => id.to_owned(),
        };
        let v = out.entry(uid.to_owned()).or_default();
        if !v.contains(&hit) {
            v.push(hit);
        }
    }
    out
}

/// The value of `[name "value"]` in a log line.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("[{name} \"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find("\"]")?;
    Some(&line[start..start + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_rule_hits_by_request() {
        let log = concat!(
            "ModSecurity: Warning. [file \"x.conf\"] [line \"1\"] [id \"942100\"] [msg \"SQLi\"] [unique_id \"r1\"]\n",
            "ModSecurity: Access denied [id \"949110\"] [msg \"\"] [unique_id \"r1\"]\n",
            "[id \"942100\"] [msg \"SQLi\"] [unique_id \"r1\"]\n",
            "[id \"920350\"] [unique_id \"r2\"]\n",
            "garbage without fields\n",
        );
        let m = parse(log);
        assert_eq!(m["r1"], vec!["942100 (SQLi)".to_string(), "949110".to_string()]);
        assert_eq!(m["r2"], vec!["920350".to_string()]);
        assert_eq!(m.len(), 2);
    }
}
