//! The CI gate: the worst figures a run may show (`tests/corpus/floors.toml`).
//!
//! ```toml
//! [overall]
//! min_tpr = 95.0      # percent of attacks refused, at least
//! max_fpr = 0.5       # percent of benign requests refused, at most
//! max_errors = 0      # 5xx / timeouts, at most
//! [classes]           # per attack class: minimum TPR in percent
//! sqli = 95.0
//! [categories]        # per benign category: maximum FPR in percent
//! prose = 0.5
//! ```
//! A class or category named here but absent from the run is a violation too (the corpus lost it).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::report::Report;
use crate::Error;

/// Rates are compared with this slack, so a floor written with one decimal is not missed by rounding.
const EPSILON: f64 = 1e-9;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Floors {
    #[serde(default)]
    pub overall: Overall,
    #[serde(default)]
    pub classes: BTreeMap<String, f64>,
    #[serde(default)]
    pub categories: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overall {
    #[serde(default)]
    pub min_tpr: f64,
    #[serde(default = "hundred")]
    pub max_fpr: f64,
    #[serde(default)]
    pub max_errors: usize,
}

impl Default for Overall {
    fn default() -> Self {
        Overall { min_tpr: 0.0, max_fpr: 100.0, max_errors: 0 }
    }
}

fn hundred() -> f64 {
    100.0
}

impl Floors {
    pub fn load(path: &Path) -> Result<Floors, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Floors, Error> {
        let floors: Floors =
            toml::from_str(text).map_err(|e| Error::Floors { path: path.to_path_buf(), message: e.to_string() })?;
        let bad = |key: String, v: f64| (!(0.0..=100.0).contains(&v)).then(|| format!("{key} = {v}: not a percentage"));
        let mut problems: Vec<String> = Vec::new();
        problems.extend(bad("overall.min_tpr".into(), floors.overall.min_tpr));
        problems.extend(bad("overall.max_fpr".into(), floors.overall.max_fpr));
        problems.extend(floors.classes.iter().filter_map(|(k, v)| bad(format!("classes.{k}"), *v)));
        problems.extend(floors.categories.iter().filter_map(|(k, v)| bad(format!("categories.{k}"), *v)));
        if !problems.is_empty() {
            return Err(Error::Floors { path: path.to_path_buf(), message: problems.join("; ") });
        }
        Ok(floors)
    }

    /// Every way `report` is worse than these floors (empty: the gate passes).
    pub fn check(&self, report: &Report) -> Vec<String> {
        let mut v = Vec::new();
        let tpr = report.attacks.rate();
        if tpr + EPSILON < self.overall.min_tpr {
            v.push(format!("overall TPR {tpr:.2}% is below the floor {}%", self.overall.min_tpr));
        }
        let fpr = report.benign.rate();
        if fpr > self.overall.max_fpr + EPSILON {
            v.push(format!("overall FPR {fpr:.2}% is above the ceiling {}%", self.overall.max_fpr));
        }
        let errors = report.attacks.errors + report.benign.errors;
        if errors > self.overall.max_errors {
            v.push(format!("{errors} requests ended in errors (5xx/timeouts), more than {}", self.overall.max_errors));
        }
        for (class, min) in &self.classes {
            match report.attack_classes.get(class) {
                Some(c) if c.rate() + EPSILON < *min => {
                    v.push(format!("class {class}: TPR {:.2}% is below the floor {min}%", c.rate()))
                }
                Some(_) => {}
                None => v.push(format!("class {class}: no attacks of this class in the corpus")),
            }
        }
        for (cat, max) in &self.categories {
            match report.benign_categories.get(cat) {
                Some(c) if c.rate() > *max + EPSILON => {
                    v.push(format!("category {cat}: FPR {:.2}% is above the ceiling {max}%", c.rate()))
                }
                Some(_) => {}
                None => v.push(format!("category {cat}: no benign requests of this category in the corpus")),
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Count;

    #[test]
    fn parses_and_checks() {
        let f = Floors::parse(
            Path::new("f.toml"),
            "[overall]\nmin_tpr = 50.0\nmax_fpr = 1.0\n[classes]\nsqli = 60\nxss = 10\n[categories]\nprose = 0.0\n",
        )
        .unwrap();
        let mut r = Report {
            attacks: Count { hits: 1, total: 2, errors: 0 },
            benign: Count { hits: 0, total: 10, errors: 0 },
            ..Report::default()
        };
        r.attack_classes.insert("sqli".into(), Count { hits: 1, total: 2, errors: 0 });
        r.benign_categories.insert("prose".into(), Count { hits: 0, total: 10, errors: 0 });
        let v = f.check(&r);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].starts_with("class sqli: TPR 50.00% is below the floor 60%"));
        assert!(v[1].starts_with("class xss: no attacks"));
        r.benign.hits = 1;
        r.benign.errors = 1;
        let v = f.check(&r);
        assert!(v.iter().any(|s| s.starts_with("overall FPR 10.00%")) && v.iter().any(|s| s.contains("errors")));
    }

    #[test]
    fn bad_files_name_the_key() {
        let e = Floors::parse(Path::new("f.toml"), "[overall]\nmin_tpr = 150\n").unwrap_err().to_string();
        assert!(e.contains("overall.min_tpr = 150"), "{e}");
        let e = Floors::parse(Path::new("f.toml"), "[overal]\n").unwrap_err().to_string();
        assert!(e.starts_with("f.toml: "), "{e}");
    }
}
