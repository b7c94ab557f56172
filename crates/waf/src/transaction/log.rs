//! Rule matches as data ([`RuleMatch`]) and as ModSecurity-style log lines (what go-ftw reads).

use super::Transaction;
use crate::actions::{Disruptive, EngineMode};
use crate::rule::{Rule, SEVERITIES};
use std::sync::Arc;

/// One logged rule match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    pub id: u32,
    pub phase: u8,
    pub msg: String,
    pub data: String,
    pub severity: Option<u8>,
    /// The rule's tags, shared by all its matches (built once per rule, [`SharedLog`]).
    pub tags: Arc<[String]>,
    pub ver: Option<Arc<str>>,
    /// The rule's action was disruptive (deny/drop/redirect) — it blocked, or would have outside
    /// DetectionOnly.
    pub disruptive: bool,
    /// This match produced the transaction's intervention (false for every match in DetectionOnly).
    pub blocked: bool,
    pub status: Option<u16>,
    pub matched_var_name: String,
    /// The rule file as `Path::display` renders it, shared by all the rule's matches.
    pub file: Arc<str>,
    pub line: u32,
}

/// What every match record of a rule holds alike: its tags, `ver` and file text, built at the rule's first
/// match (`rule::Meta::shared_log`) so a match clones three reference counts, not a vector of strings and
/// two strings (and drops them again with the transaction).
#[derive(Debug)]
pub struct SharedLog {
    tags: Arc<[String]>,
    ver: Option<Arc<str>>,
    file: Arc<str>,
    /// The rule's `msg` and `logdata` when they can be rendered later ([`DeferredText::of`]).
    deferred: Option<Arc<DeferredText>>,
}

impl SharedLog {
    fn of(rule: &Rule) -> SharedLog {
        SharedLog {
            tags: rule.meta.tags.iter().cloned().collect(),
            ver: rule.meta.ver.as_deref().map(Arc::from),
            file: Arc::from(path_text(&rule.loc.file)),
            deferred: DeferredText::of(rule).map(Arc::new),
        }
    }
}

/// A rule's `msg` and `logdata` whose every variable is a `TX` key (CRS's phase-5 report, 980170, reads 25
/// scores): a match of it is recorded with both texts empty and rendered later, when `Transaction::matches`
/// is read or just before the transaction's `TX` next changes (`Transaction::settle_text`), whichever comes
/// first. Nothing is read from the request then: most requests' reports are never read at all (no log, no
/// enabled event), and those that are cost what they did.
///
/// # Why it is exact
///
/// Such a text depends only on the values of the `TX` keys it names, and those change only through the
/// transaction's `TX` writes: `tx_set_hashed` (every assignment, `=+`/`=-`, capture and pinned key), a
/// `setvar:!tx.key` removal and the snapshot's `load`, each of which renders the pending texts first. `TX`
/// values are spans of the append-only arena, cleared only with the transaction. So when a pending text is
/// rendered, each key it names has the value (or absence) it had when the rule matched, and the text is the
/// one `match_text` gave then, byte for byte (expansion, UTF-8 rendering and the 512-byte clip unchanged).
#[derive(Debug)]
pub(crate) struct DeferredText {
    msg: Option<crate::macros::Macro>,
    data: Option<crate::macros::Macro>,
}

impl DeferredText {
    /// `Some` when the rule's `msg` or `logdata` has a variable part and every variable part of both is a
    /// `TX` key (`%{tx.name}`); `None` otherwise (rendered when the rule matches, as before).
    fn of(rule: &Rule) -> Option<DeferredText> {
        let texts = [&rule.meta.msg, &rule.meta.logdata];
        let only_tx_keys = texts
            .iter()
            .filter_map(|m| m.as_ref())
            .all(|m| m.vars().all(|(v, k)| v == crate::variables::Var::Tx && k.is_some()));
        let dynamic = texts.iter().filter_map(|m| m.as_ref()).any(|m| !m.is_static());
        (only_tx_keys && dynamic).then(|| DeferredText { msg: rule.meta.msg.clone(), data: rule.meta.logdata.clone() })
    }
}

/// Per-transaction facts printed on every line.
#[derive(Debug, Clone, Default)]
pub struct LogMeta {
    pub client_addr: String,
    pub uri: String,
    pub unique_id: String,
    pub hostname: String,
}

/// Quotes a value for `[name "value"]`: escapes `"` and `\`, replaces control bytes (no log injection).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_control() => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o
}

impl RuleMatch {
    /// `ModSecurity: Warning. ... [id "942100"] [msg "..."] [data "..."] [severity "CRITICAL"] [tag "..."]
    /// [hostname "..."] [uri "..."] [unique_id "..."]`
    pub fn modsec_log_line(&self, meta: &LogMeta) -> String {
        let mut l = String::from("ModSecurity: ");
        if self.blocked {
            l.push_str(&format!("Access denied with code {} (phase {}). ", self.status.unwrap_or(403), self.phase));
        } else {
            l.push_str("Warning. ");
        }
        l.push_str(&format!("Matched {}", esc(&self.matched_var_name)));
        l.push_str(&format!(" [file \"{}\"] [line \"{}\"] [id \"{}\"]", esc(&self.file), self.line, self.id));
        if !self.msg.is_empty() {
            l.push_str(&format!(" [msg \"{}\"]", esc(&self.msg)));
        }
        if !self.data.is_empty() {
            l.push_str(&format!(" [data \"{}\"]", esc(&self.data)));
        }
        if let Some(s) = self.severity {
            l.push_str(&format!(" [severity \"{}\"]", SEVERITIES[s as usize % 8]));
        }
        if let Some(v) = &self.ver {
            l.push_str(&format!(" [ver \"{}\"]", esc(v)));
        }
        for t in self.tags.iter() {
            l.push_str(&format!(" [tag \"{}\"]", esc(t)));
        }
        l.push_str(&format!(
            " [client \"{}\"] [hostname \"{}\"] [uri \"{}\"] [unique_id \"{}\"]",
            esc(&meta.client_addr),
            esc(&meta.hostname),
            esc(&meta.uri),
            esc(&meta.unique_id)
        ));
        l
    }
}

/// Longest `msg`/`data` kept in a match (ModSecurity truncates logdata at 512 bytes).
const MAX_DATA: usize = 512;

fn clip(mut s: String) -> String {
    if s.len() > MAX_DATA {
        let mut cut = MAX_DATA;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// `bytes` as `String::from_utf8_lossy(&bytes).into_owned()` renders them, without its byte-by-byte walk
/// and copy when they are valid UTF-8 (an expanded `msg` nearly always is: `from_utf8` checks a word at a
/// time, and the vector becomes the string).
fn lossy_owned(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// A rule file's path as `Path::display` renders it, without the formatter's lossy walk when it is valid
/// UTF-8 (`to_str`), which the display then shows unchanged.
fn path_text(p: &std::path::Path) -> String {
    match p.to_str() {
        Some(s) => s.to_owned(),
        None => p.display().to_string(),
    }
}

impl Transaction {
    /// `m` expanded, rendered and clipped as a match's `msg`/`data`: expanded into a vector sized for the
    /// literal text and a few bytes per variable, which then becomes the string.
    fn match_text(&self, m: &crate::macros::Macro) -> String {
        if let Some(s) = m.as_static() {
            return clip(String::from_utf8_lossy(s).into_owned());
        }
        let mut v = Vec::with_capacity(m.size_hint());
        m.expand_into(self, &mut v);
        clip(lossy_owned(v))
    }

    /// `msg` and `data` of a match of text `d`, rendered from the current `TX`.
    fn deferred_texts(&self, d: &DeferredText) -> (String, String) {
        let msg = d.msg.as_ref().map(|m| self.match_text(m)).unwrap_or_default();
        let data = d.data.as_ref().map(|m| self.match_text(m)).unwrap_or_default();
        (msg, data)
    }

    /// Renders the texts of the matches recorded without them ([`DeferredText`]); called before every `TX`
    /// write and when the matches are read.
    #[inline]
    pub(crate) fn settle_text(&mut self) {
        if !self.pending_text.is_empty() {
            self.render_pending_text();
        }
    }

    #[cold]
    #[inline(never)]
    fn render_pending_text(&mut self) {
        let mut pending = std::mem::take(&mut self.pending_text);
        for (i, d) in pending.drain(..) {
            let (msg, data) = self.deferred_texts(&d);
            let m = &mut self.matches[i];
            m.msg = msg;
            m.data = data;
        }
        self.pending_text = pending;
    }

    pub(crate) fn record_match(&mut self, rule: &Rule) {
        let shared = rule.meta.shared_log.get_or_init(|| SharedLog::of(rule));
        let (msg, data) = match &shared.deferred {
            Some(d) if self.engine.defer_match_text => {
                self.pending_text.push((self.matches.len(), Arc::clone(d)));
                (String::new(), String::new())
            }
            _ => (
                rule.meta.msg.as_ref().map(|m| self.match_text(m)).unwrap_or_default(),
                rule.meta.logdata.as_ref().map(|m| self.match_text(m)).unwrap_or_default(),
            ),
        };
        let disruptive =
            matches!(rule.disruptive, Disruptive::Deny | Disruptive::Drop | Disruptive::Redirect(_)) && rule.phase < 5;
        let _ = EngineMode::On;
        self.matches.push(RuleMatch {
            id: rule.id,
            phase: rule.phase,
            msg,
            data,
            severity: rule.meta.severity,
            tags: Arc::clone(&shared.tags),
            ver: shared.ver.clone(),
            disruptive,
            blocked: false,
            status: rule.status,
            matched_var_name: self.matched_var_name.clone(),
            file: Arc::clone(&shared.file),
            line: rule.loc.line,
        });
    }
}
