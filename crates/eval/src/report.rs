//! Counting results: TPR per attack class × placement and per encoding, FPR per benign category and
//! placement, the overall line, machine output and the miss listing.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::corpus::Label;
use crate::run::Judged;

/// `hits` out of `total` (refused attacks, or refused benign requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub hits: usize,
    pub total: usize,
    pub errors: usize,
}

impl Count {
    fn add(&mut self, hit: bool, error: bool) {
        self.total += 1;
        self.hits += usize::from(hit);
        self.errors += usize::from(error);
    }

    /// hits / total in percent (0 when empty).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.hits as f64 / self.total as f64
        }
    }
}

/// The tallies of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Attacks refused, per class.
    pub attack_classes: BTreeMap<String, Count>,
    /// Attacks refused, per class and placement.
    pub attack_placements: BTreeMap<String, BTreeMap<String, Count>>,
    /// Attacks refused, per encoding.
    pub attack_encodings: BTreeMap<String, Count>,
    /// Benign requests refused, per category.
    pub benign_categories: BTreeMap<String, Count>,
    /// Benign requests refused, per placement.
    pub benign_placements: BTreeMap<String, Count>,
    pub attacks: Count,
    pub benign: Count,
    /// Refused-request counts by status (`403`, `400`, `dropped`), attacks and benign together.
    pub refusals_by_status: BTreeMap<String, usize>,
}

impl Report {
    pub fn new(results: &[Judged]) -> Report {
        let mut r = Report::default();
        for j in results {
            let e = &j.entry;
            let (hit, err) = (j.outcome.is_refused(), j.outcome.is_error());
            match e.label {
                Label::Attack => {
                    r.attacks.add(hit, err);
                    r.attack_classes.entry(e.class.clone()).or_default().add(hit, err);
                    r.attack_placements
                        .entry(e.class.clone())
                        .or_default()
                        .entry(e.placement.clone())
                        .or_default()
                        .add(hit, err);
                    r.attack_encodings.entry(e.encoding.clone()).or_default().add(hit, err);
                }
                Label::Benign => {
                    r.benign.add(hit, err);
                    r.benign_categories.entry(e.class.clone()).or_default().add(hit, err);
                    r.benign_placements.entry(e.placement.clone()).or_default().add(hit, err);
                }
            }
            match &j.outcome {
                crate::outcome::Outcome::Refused { status, .. } => {
                    *r.refusals_by_status.entry(status.to_string()).or_default() += 1
                }
                crate::outcome::Outcome::Dropped { .. } => {
                    *r.refusals_by_status.entry("dropped".into()).or_default() += 1
                }
                _ => {}
            }
        }
        r
    }

    /// `overall: TPR 97.1% (1456/1500), FPR 0.32% (8/2500)`.
    pub fn overall_line(&self) -> String {
        let mut s = format!(
            "overall: TPR {:.1}% ({}/{}), FPR {:.2}% ({}/{})",
            self.attacks.rate(),
            self.attacks.hits,
            self.attacks.total,
            self.benign.rate(),
            self.benign.hits,
            self.benign.total
        );
        let errors = self.attacks.errors + self.benign.errors;
        if errors > 0 {
            let _ = write!(s, ", {errors} errors");
        }
        s
    }

    /// The human tables, ending with the overall line.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let row = |o: &mut String, indent: &str, name: &str, c: &Count, what: &str| {
            let err = if c.errors > 0 { format!("  ({} errors)", c.errors) } else { String::new() };
            let _ = writeln!(o, "{indent}{name:<24} {:>5}/{:<5} {what} {:>6.1}%{err}", c.hits, c.total, c.rate());
        };
        let _ = writeln!(o, "attacks refused, by class and placement (TP/total, TPR)");
        for (class, c) in &self.attack_classes {
            row(&mut o, "  ", class, c, "TPR");
            for (placement, pc) in self.attack_placements.get(class).into_iter().flatten() {
                row(&mut o, "      ", placement, pc, "   ");
            }
        }
        let _ = writeln!(o, "\nattacks refused, by encoding");
        for (enc, c) in &self.attack_encodings {
            row(&mut o, "  ", enc, c, "TPR");
        }
        let _ = writeln!(o, "\nbenign requests refused, by category (FP/total, FPR)");
        for (cat, c) in &self.benign_categories {
            row(&mut o, "  ", cat, c, "FPR");
        }
        let _ = writeln!(o, "\nbenign requests refused, by placement");
        for (p, c) in &self.benign_placements {
            row(&mut o, "  ", p, c, "FPR");
        }
        if !self.refusals_by_status.is_empty() {
            let list: Vec<String> = self.refusals_by_status.iter().map(|(s, n)| format!("{s}: {n}")).collect();
            let _ = writeln!(o, "\nrefusals by status: {}", list.join(", "));
        }
        let _ = writeln!(o, "\n{}", self.overall_line());
        o
    }

    /// Machine output: the tallies plus `tpr`/`fpr` in percent.
    pub fn json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("tpr".into(), self.attacks.rate().into());
            m.insert("fpr".into(), self.benign.rate().into());
            m.insert("overall".into(), self.overall_line().into());
        }
        v
    }
}

/// One JSON object per request (id, label, class, placement, encoding, refused, outcome, request id, rules).
pub fn results_json(results: &[Judged]) -> serde_json::Value {
    results
        .iter()
        .map(|j| {
            serde_json::json!({
                "id": j.entry.id,
                "label": j.entry.label,
                "class": j.entry.class,
                "placement": j.entry.placement,
                "encoding": j.entry.encoding,
                "refused": j.outcome.is_refused(),
                "outcome": j.outcome,
                "request_id": j.request_id,
                "rules": j.rules,
            })
        })
        .collect()
}

/// Up to `n` missed attacks and up to `n` false positives (and every error up to `n`), one per line with why.
pub fn misses(results: &[Judged], n: usize) -> String {
    let mut o = String::new();
    let mut list = |title: &str, pick: &dyn Fn(&Judged) -> bool| {
        let all: Vec<&Judged> = results.iter().filter(|j| pick(j)).collect();
        let _ = writeln!(o, "{title} ({}, showing {}):", all.len(), all.len().min(n));
        for j in all.iter().take(n) {
            let e = &j.entry;
            let note = if e.note.is_empty() { String::new() } else { format!(" [{}]", e.note) };
            let _ = writeln!(o, "  {} {} {}: {}{note}", e.id, e.method, truncate(&e.target, 100), j.outcome.describe());
            if !j.rules.is_empty() {
                let _ = writeln!(o, "      rules: {}", truncate(&j.rules.join(", "), 400));
            }
        }
    };
    list("missed attacks", &|j| j.entry.label == Label::Attack && !j.outcome.is_refused());
    list("false positives", &|j| j.entry.label == Label::Benign && j.outcome.is_refused());
    list("errors", &|j| j.outcome.is_error());
    o
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Entry;
    use crate::outcome::Outcome;

    fn judged(id: &str, label: Label, class: &str, placement: &str, outcome: Outcome) -> Judged {
        let entry = Entry {
            id: id.into(),
            label,
            class: class.into(),
            placement: placement.into(),
            encoding: "plain".into(),
            method: "GET".into(),
            target: "/x".into(),
            headers: Vec::new(),
            body: String::new(),
            note: String::new(),
        };
        Judged { entry, outcome, request_id: None, rules: Vec::new() }
    }

    #[test]
    fn counts_rates_and_lists_misses() {
        let refused = || Outcome::Refused { status: 403, reason: "Forbidden".into() };
        let passed = || Outcome::Passed { status: 200 };
        let results = vec![
            judged("a1", Label::Attack, "sqli", "query", refused()),
            judged("a2", Label::Attack, "sqli", "json", passed()),
            judged("a3", Label::Attack, "xss", "query", Outcome::Dropped { error: "closed".into() }),
            judged("a4", Label::Attack, "xss", "query", refused()),
            judged("b1", Label::Benign, "prose", "json", passed()),
            judged("b2", Label::Benign, "prose", "json", refused()),
            judged("b3", Label::Benign, "code", "form", passed()),
            judged("b4", Label::Benign, "code", "form", Outcome::Error { error: "status 502".into() }),
        ];
        let r = Report::new(&results);
        assert_eq!(r.overall_line(), "overall: TPR 75.0% (3/4), FPR 25.00% (1/4), 1 errors");
        assert_eq!(r.attack_placements["xss"]["query"], Count { hits: 2, total: 2, errors: 0 });
        assert_eq!(r.attack_classes["sqli"].rate(), 50.0);
        assert_eq!(r.refusals_by_status["403"], 3);
        let text = r.text();
        assert!(text.contains("sqli") && text.ends_with("1 errors\n"), "{text}");
        let m = misses(&results, 5);
        assert!(m.contains("missed attacks (1, showing 1):\n  a2 GET /x: passed with 200"), "{m}");
        assert!(m.contains("false positives (1, showing 1):\n  b2 GET /x: refused with 403: Forbidden"), "{m}");
        assert!(m.contains("errors (1, showing 1):\n  b4"), "{m}");
        assert_eq!(r.json()["tpr"], 75.0);
        let all = results_json(&results);
        assert_eq!(all[2]["outcome"]["kind"], "dropped");
        assert_eq!((all[2]["refused"].as_bool(), all[1]["refused"].as_bool()), (Some(true), Some(false)));
    }
}
