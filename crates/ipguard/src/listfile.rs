//! List files in the common block-list formats: FireHOL `.netset` / `.ipset` and Spamhaus DROP/EDROP.
//!
//! One entry a line: a CIDR (`1.2.3.0/24`) or bare address (IPv4 or IPv6); `#` starts a comment line or a
//! trailing comment; `;` starts a trailing note (`1.2.3.0/24 ; SBL123456`) and, at the start of a line, a
//! comment (Spamhaus headers). Blank lines are ignored. Anything else is an error naming file and line, and the
//! caller keeps the previous list.

use std::path::Path;

use ipnet::IpNet;

/// A line that is not an address, CIDR or comment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ListError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses list text; `name` names it in errors.
pub fn parse_list(name: &str, text: &str) -> Result<Vec<IpNet>, ListError> {
    let mut nets = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let entry = raw.split(['#', ';']).next().unwrap_or("").trim();
        if entry.is_empty() {
            continue;
        }
        // Some lists carry a second column (counts, dates) after whitespace; the address is the first field.
        let first = entry.split_whitespace().next().unwrap_or(entry);
        match portcullis_config::parse_net(first) {
            Ok(n) => nets.push(n),
            Err(message) => return Err(ListError { file: name.to_string(), line: i + 1, message }),
        }
    }
    Ok(nets)
}

/// Reads and parses a list file.
pub fn read_list(path: &Path) -> Result<Vec<IpNet>, ListError> {
    let name = path.display().to_string();
    // Lists are text; a stray non-UTF-8 byte in a comment should not reject the whole file.
    let bytes = std::fs::read(path).map_err(|e| ListError {
        file: name.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse_list(&name, &String::from_utf8_lossy(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firehol_and_spamhaus_styles() {
        let text = "#\n# firehol_level1\n# Source: ...\n\n1.2.3.0/24\n5.6.7.8\n\
                    ; Spamhaus DROP List 2024/01/01\n9.9.0.0/16 ; SBL123456\n2001:db8::/32 # doc range\n\
                    10.0.0.1\t42\n";
        let nets = parse_list("x", text).unwrap();
        let s: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["1.2.3.0/24", "5.6.7.8/32", "9.9.0.0/16", "2001:db8::/32", "10.0.0.1/32"]);
    }

    #[test]
    fn a_bad_line_is_named() {
        let e = parse_list("lists/bad.netset", "1.2.3.0/24\n\n300.1.1.1\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.to_string().starts_with("lists/bad.netset:3: "), "{e}");
        assert!(parse_list("x", "1.2.3.0/40").is_err());
    }
}
