//! The result of a run: one [`TestOutcome`] per selected test and the counts behind the summary line.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::suite::TestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    Failed,
    Skipped,
}

/// One test (all its stages).
#[derive(Debug, Clone)]
pub struct TestOutcome {
    pub id: TestId,
    pub file: PathBuf,
    pub verdict: Verdict,
    /// Empty when passed; for a failure, which stage and which expectations; for a skip, the override reason.
    pub reason: String,
    pub duration: Duration,
}

impl fmt::Display for TestOutcome {
    /// `942100-1 passed`, `942100-2 FAILED: missing expected id 942100`, `920100-4 skipped: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.verdict {
            Verdict::Passed => write!(f, "{} passed", self.id),
            Verdict::Failed => write!(f, "{} FAILED: {}", self.id, self.reason),
            Verdict::Skipped => write!(f, "{} skipped: {}", self.id, self.reason),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub outcomes: Vec<TestOutcome>,
    pub duration: Duration,
}

impl Report {
    pub fn push(&mut self, outcome: TestOutcome) {
        match outcome.verdict {
            Verdict::Passed => self.passed += 1,
            Verdict::Failed => self.failed += 1,
            Verdict::Skipped => self.skipped += 1,
        }
        self.outcomes.push(outcome);
    }

    pub fn failures(&self) -> impl Iterator<Item = &TestOutcome> {
        self.outcomes.iter().filter(|o| o.verdict == Verdict::Failed)
    }

    pub fn outcome(&self, id: TestId) -> Option<&TestOutcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// True when nothing failed (skips do not count against a run).
    pub fn is_success(&self) -> bool {
        self.failed == 0
    }

    /// Exactly `N passed, M failed`, followed by `, K skipped` when K > 0.
    pub fn summary_line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

impl fmt::Display for Report {
    /// Every failure on its own line, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for o in self.failures() {
            writeln!(f, "{o}")?;
        }
        write!(f, "{}", self.summary_line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(verdict: Verdict) -> TestOutcome {
        TestOutcome {
            id: "1-1".parse().unwrap(),
            file: PathBuf::new(),
            verdict,
            reason: "why".into(),
            duration: Duration::ZERO,
        }
    }

    #[test]
    fn summary_line_mentions_skips_only_when_there_are_some() {
        let mut r = Report::default();
        r.push(outcome(Verdict::Passed));
        r.push(outcome(Verdict::Failed));
        assert_eq!(r.summary_line(), "1 passed, 1 failed");
        r.push(outcome(Verdict::Skipped));
        assert_eq!(r.summary_line(), "1 passed, 1 failed, 1 skipped");
        assert_eq!(r.to_string(), "1-1 FAILED: why\n1 passed, 1 failed, 1 skipped");
    }
}
