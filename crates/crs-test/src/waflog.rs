//! Reads the WAF's match log the way go-ftw does, but forwards: the file is tailed from where the last stage
//! ended, so each stage costs only the bytes it added.
//!
//! A marker line is any line that contains the marker header name (case-insensitive, `X-CRS-Test`) and the
//! marker id; that is what rule 999999 (`msg:'X-CRS-Test %{MATCHED_VAR}'`) produces. The lines strictly between
//! the start and end marker of a stage belong to that stage. Rule ids are taken from ModSecurity-style
//! `[id "942100"]` and JSON `"id":"942100"` / `"id": 942100` / `"ruleId": ...` fragments.

use std::collections::{BTreeSet, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use regex::bytes::Regex;

/// A forward reader of a growing log file.
pub struct LogTail {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
    partial: Vec<u8>,
    /// Lines read from the file but not yet consumed by a marker search.
    pending: VecDeque<Vec<u8>>,
}

impl LogTail {
    /// Starts at the current end of the file (or at 0 if it does not exist yet): older lines are never read.
    pub fn open(path: &Path) -> Self {
        let mut tail =
            LogTail { path: path.to_owned(), file: None, offset: 0, partial: Vec::new(), pending: VecDeque::new() };
        if let Ok(f) = File::open(path) {
            tail.offset = f.metadata().map(|m| m.len()).unwrap_or(0);
            tail.file = Some(f);
        }
        tail
    }

    /// Complete lines appended since the last call.
    pub fn read_new_lines(&mut self) -> std::io::Result<Vec<Vec<u8>>> {
        if self.file.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(Vec::new());
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated or rotated in place: start over.
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset {
            return Ok(Vec::new());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut fresh = Vec::with_capacity((len - self.offset) as usize);
        file.take(len - self.offset).read_to_end(&mut fresh)?;
        self.offset += fresh.len() as u64;
        self.partial.extend_from_slice(&fresh);
        let mut lines = Vec::new();
        let mut start = 0;
        for (i, b) in self.partial.iter().enumerate() {
            if *b == b'\n' {
                let mut line = &self.partial[start..i];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                lines.push(line.to_vec());
                start = i + 1;
            }
        }
        self.partial.drain(..start);
        Ok(lines)
    }

    /// Waits until the marker line for `marker_id` appears; returns the lines seen before it.
    /// `Ok(None)` means the marker did not show up within `timeout`.
    pub fn wait_for_marker(
        &mut self,
        header_name: &str,
        marker_id: &str,
        timeout: Duration,
    ) -> std::io::Result<Option<Vec<Vec<u8>>>> {
        let deadline = Instant::now() + timeout;
        let header = header_name.to_ascii_lowercase();
        let id = marker_id.to_ascii_lowercase();
        let mut before = Vec::new();
        let mut pause = Duration::from_micros(100);
        loop {
            if self.pending.is_empty() {
                let fresh = self.read_new_lines()?;
                self.pending.extend(fresh);
            }
            while let Some(line) = self.pending.pop_front() {
                if is_marker(&line, &header, &id) {
                    return Ok(Some(before));
                }
                before.push(line);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            if self.pending.is_empty() {
                std::thread::sleep(pause);
            }
            pause = (pause * 2).min(Duration::from_millis(5));
        }
    }
}

fn is_marker(line: &[u8], header_lower: &str, id_lower: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    contains(&lower, header_lower.as_bytes()) && contains(&lower, id_lower.as_bytes())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

fn id_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r#"\[id \\?"(\d+)\\?"\]|"(?:id|ruleId)\\?":\s*\\?"?(\d+)"#).expect("static rule-id regex")
    })
}

/// Every rule id mentioned in `lines`.
pub fn rule_ids(lines: &[Vec<u8>]) -> BTreeSet<u32> {
    let mut ids = BTreeSet::new();
    for line in lines {
        for caps in id_regex().captures_iter(line) {
            let m = caps.get(1).or_else(|| caps.get(2));
            if let Some(id) = m.and_then(|m| std::str::from_utf8(m.as_bytes()).ok()).and_then(|s| s.parse().ok()) {
                ids.insert(id);
            }
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn extracts_modsecurity_and_json_ids() {
        let lines = vec![
            br#"[client 1.2.3.4] ModSecurity: Warning. [file "x.conf"] [line "1"] [id "942100"] [msg "SQLi"]"#.to_vec(),
            br#"{"transaction":{"messages":[{"details":{"ruleId":"920350"}},{"id":"941100"},{"id": 930120}]}}"#
                .to_vec(),
            br#"escaped [id \"913100\"] and {\"id\":\"913101\"}"#.to_vec(),
            b"no id here 123".to_vec(),
        ];
        let ids: Vec<u32> = rule_ids(&lines).into_iter().collect();
        assert_eq!(ids, vec![913100, 913101, 920350, 930120, 941100, 942100]);
    }

    #[test]
    fn tails_between_markers_and_survives_partial_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("waf.log");
        std::fs::write(&path, "old [id \"1\"]\n").unwrap();
        let mut tail = LogTail::open(&path);
        let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        write!(f, "noise\n[id \"999999\"] X-CRS-Test abc-s\n[id \"942100\"] par").unwrap();
        let before = tail.wait_for_marker("X-CRS-Test", "abc-s", Duration::from_millis(100)).unwrap().unwrap();
        assert_eq!(before, vec![b"noise".to_vec()]);
        write!(f, "tial\n[id \"999999\"] x-crs-test ABC-E\n").unwrap();
        let between = tail.wait_for_marker("X-CRS-Test", "abc-e", Duration::from_millis(100)).unwrap().unwrap();
        assert_eq!(between, vec![b"[id \"942100\"] partial".to_vec()]);
        assert!(tail.wait_for_marker("X-CRS-Test", "zzz", Duration::from_millis(20)).unwrap().is_none());
    }
}
