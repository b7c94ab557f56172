//! Runs the selected tests against a gateway on loopback, sequentially, one fresh TCP connection per request.
//!
//! Per stage: start marker → the stage request → end marker → the log lines between the two markers are
//! judged together with the response. A marker is `GET /status/200` with `X-CRS-Test: <uuid>-s` (`-e` for the
//! end), which the WAF in CRS test mode logs through rule 999999 and otherwise ignores.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::check;
use crate::client::{self, Response};
use crate::error::Error;
use crate::overrides::{Override, Overrides};
use crate::report::{Report, TestOutcome, Verdict};
use crate::request;
use crate::suite::{self, Output, Stage, TestCase, TestFile, TestFilter};
use crate::waflog::LogTail;

/// After this many stages in a row whose markers never reached the log, the run stops: the WAF is not
/// logging (wrong log file, not in test mode, or down).
const MAX_CONSECUTIVE_MARKER_FAILURES: usize = 5;

/// Everything a run needs. Build it with [`RunOptions::new`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Directory searched recursively for test YAMLs (`<crs>/tests/regression/tests`).
    pub tests_dir: PathBuf,
    /// Run only this file (then `tests_dir` is not read).
    pub file: Option<PathBuf>,
    pub filter: TestFilter,
    pub overrides: Overrides,
    /// The gateway under test; must be a loopback address. The tests' own `dest_addr`/`port` are ignored.
    pub target: SocketAddr,
    /// The WAF's match log (ModSecurity error-log lines or JSON lines, one event per line).
    pub log_file: PathBuf,
    /// Connect + write + read deadline of every request.
    pub request_timeout: Duration,
    /// How long to wait for a marker line to appear in the log.
    pub marker_timeout: Duration,
    /// Header the WAF's marker rule looks for.
    pub marker_header: String,
}

impl RunOptions {
    /// Options for the whole suite of a CRS checkout, with go-ftw's marker header and short timeouts.
    pub fn new(crs_dir: &Path, target: SocketAddr, log_file: &Path) -> Self {
        RunOptions {
            tests_dir: tests_dir(crs_dir),
            file: None,
            filter: TestFilter::All,
            overrides: Overrides::default(),
            target,
            log_file: log_file.to_owned(),
            request_timeout: Duration::from_secs(3),
            marker_timeout: Duration::from_secs(2),
            marker_header: "X-CRS-Test".into(),
        }
    }
}

/// Where a CRS checkout keeps its regression tests.
pub fn tests_dir(crs_dir: &Path) -> PathBuf {
    crs_dir.join("tests").join("regression").join("tests")
}

/// Loads the files the options select (one file, or every YAML under `tests_dir`). A `file` that does not
/// exist as given is looked up by name under `tests_dir`, so `--file 942100.yaml` works.
pub fn load_selected(opts: &RunOptions) -> Result<Vec<TestFile>, Error> {
    match &opts.file {
        Some(f) if f.exists() => Ok(vec![suite::load_file(f)?]),
        Some(f) => {
            let found = suite::find_test_files(&opts.tests_dir)?.into_iter().find(|p| p.ends_with(f));
            match found {
                Some(p) => Ok(vec![suite::load_file(&p)?]),
                None => Err(Error::Io { path: f.clone(), source: std::io::ErrorKind::NotFound.into() }),
            }
        }
        None => suite::load_dir(&opts.tests_dir),
    }
}

/// Runs the selected tests and returns the report. See [`run_suite_with`] to stream outcomes.
pub fn run_suite(opts: &RunOptions) -> Result<Report, Error> {
    run_suite_with(opts, &mut |_| {})
}

/// Like [`run_suite`], calling `on_outcome` as each test finishes (for progress output).
///
/// Blocking: from async code, call it inside `tokio::task::spawn_blocking`.
pub fn run_suite_with(opts: &RunOptions, on_outcome: &mut dyn FnMut(&TestOutcome)) -> Result<Report, Error> {
    if !opts.target.ip().is_loopback() {
        return Err(Error::Options(format!("target {} is not a loopback address", opts.target)));
    }
    let started = Instant::now();
    let files = load_selected(opts)?;
    let selected: Vec<(&TestFile, &TestCase)> = files
        .iter()
        .flat_map(|f| f.tests.iter().map(move |t| (f, t)))
        .filter(|(_, t)| opts.filter.matches(t.id))
        .collect();
    if selected.is_empty() {
        return Err(Error::NothingSelected(format!("{:?}", opts.filter)));
    }
    let mut runner = Runner { opts, log: LogTail::open(&opts.log_file), markers_seen: false, marker_failures: 0 };
    let mut report = Report::default();
    for (file, test) in selected {
        let t0 = Instant::now();
        let (verdict, reason) = match opts.overrides.get(test.id) {
            Some(Override::Skip { reason }) => (Verdict::Skipped, reason.clone()),
            entry => match runner.run_test(test, entry)? {
                Ok(()) => (Verdict::Passed, String::new()),
                Err(reason) => (Verdict::Failed, reason),
            },
        };
        let outcome = TestOutcome { id: test.id, file: file.path.clone(), verdict, reason, duration: t0.elapsed() };
        on_outcome(&outcome);
        report.push(outcome);
    }
    report.duration = started.elapsed();
    Ok(report)
}

struct Runner<'a> {
    opts: &'a RunOptions,
    log: LogTail,
    /// Whether any marker has ever been found; if the first one is not, the setup is wrong and the run stops.
    markers_seen: bool,
    marker_failures: usize,
}

enum MarkerError {
    /// The marker request itself could not be sent.
    Send(String),
    /// Sent, but never logged.
    NotLogged(String),
}

impl Runner<'_> {
    /// Outer error: the run must stop. Inner error: this test failed, with the reason.
    fn run_test(&mut self, test: &TestCase, entry: Option<&Override>) -> Result<Result<(), String>, Error> {
        let mut cookie: Option<String> = None;
        let count = test.stages.len();
        for (index, stage) in test.stages.iter().enumerate() {
            let mut expected = stage.output.clone();
            if let Some(e) = entry {
                e.apply(index, &mut expected);
            }
            let mut result = self.run_stage(stage, &expected, cookie.as_deref())?;
            if result.is_err() && expected.retry_once == Some(true) {
                result = self.run_stage(stage, &expected, cookie.as_deref())?;
            }
            let prefix = if count > 1 { format!("stage {}/{count}: ", index + 1) } else { String::new() };
            match result {
                Ok(Some(response)) if stage.input.save_cookie == Some(true) => {
                    if let Some(c) = cookies_of(&response) {
                        cookie = Some(c);
                    }
                }
                Ok(_) => {}
                Err(reason) => return Ok(Err(format!("{prefix}{reason}"))),
            }
        }
        Ok(Ok(()))
    }

    fn run_stage(
        &mut self,
        stage: &Stage,
        expected: &Output,
        cookie: Option<&str>,
    ) -> Result<Result<Option<Response>, String>, Error> {
        let expect_error = expected.expect_error == Some(true);
        let stage_id = uuid::Uuid::new_v4().to_string();
        let start = self.mark(&format!("{stage_id}-s"))?;
        if let Err(e) = &start {
            if !expect_error {
                return Ok(Err(marker_reason("start", e)));
            }
        }
        let raw = match request::build(&stage.input, cookie) {
            Ok(raw) => raw,
            Err(e) => return Ok(Err(format!("cannot build the request: {e}"))),
        };
        let response = client::send(self.opts.target, &raw, self.opts.request_timeout);
        let lines = match self.mark(&format!("{stage_id}-e"))? {
            Ok(lines) => lines,
            Err(e) if !expect_error => return Ok(Err(marker_reason("end", &e))),
            Err(_) => Vec::new(),
        };
        Ok(check::judge(expected, &response, &lines).map(|()| response.ok()))
    }

    /// Sends a marker and waits for its log line; returns the log lines that came before it.
    fn mark(&mut self, marker_id: &str) -> Result<Result<Vec<Vec<u8>>, MarkerError>, Error> {
        let opts = self.opts;
        let req = request::marker(&opts.marker_header, marker_id);
        let mut lines = Vec::new();
        // go-ftw resends a marker that did not show up; one resend covers a WAF that flushes lazily.
        for _attempt in 0..2 {
            if let Err(e) = client::send(opts.target, &req, opts.request_timeout) {
                return self.marker_failed(MarkerError::Send(e));
            }
            let found = self
                .log
                .wait_for_marker(&opts.marker_header, marker_id, opts.marker_timeout / 2)
                .map_err(|source| Error::Io { path: opts.log_file.clone(), source })?;
            match found {
                Some(mut before) => {
                    lines.append(&mut before);
                    self.markers_seen = true;
                    self.marker_failures = 0;
                    return Ok(Ok(lines));
                }
                None => continue,
            }
        }
        let why =
            format!("marker `{marker_id}` not logged in {} within {:?}", opts.log_file.display(), opts.marker_timeout);
        self.marker_failed(MarkerError::NotLogged(why))
    }

    fn marker_failed(&mut self, e: MarkerError) -> Result<Result<Vec<Vec<u8>>, MarkerError>, Error> {
        self.marker_failures += 1;
        let text = match &e {
            MarkerError::Send(s) | MarkerError::NotLogged(s) => s.clone(),
        };
        if !self.markers_seen {
            return Err(Error::Marker(format!(
                "{text}; is the gateway listening on {} with the WAF in CRS test mode (rule 999999) \
                 logging to that file?",
                self.opts.target
            )));
        }
        if self.marker_failures >= MAX_CONSECUTIVE_MARKER_FAILURES {
            return Err(Error::Marker(format!(
                "{MAX_CONSECUTIVE_MARKER_FAILURES} marker failures in a row; last: {text}"
            )));
        }
        Ok(Err(e))
    }
}

fn marker_reason(which: &str, e: &MarkerError) -> String {
    match e {
        MarkerError::Send(s) => format!("{which} marker request failed: {s}"),
        MarkerError::NotLogged(s) => format!("{which} {s}"),
    }
}

/// `name=value` pairs of the response's Set-Cookie headers, as one Cookie header value.
fn cookies_of(response: &Response) -> Option<String> {
    let pairs: Vec<&str> = response
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Set-Cookie"))
        .filter_map(|(_, v)| v.split(';').next().map(str::trim))
        .filter(|p| !p.is_empty())
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}
