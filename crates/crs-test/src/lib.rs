//! go-ftw compatible regression runner for the OWASP CRS suite, and the echo upstream the suite needs.
//!
//! This crate owns everything around the WAF, never the WAF itself: loading the go-ftw YAML tests
//! ([`suite`]), our expectation overrides ([`overrides`]), building the raw requests exactly as go-ftw does
//! ([`request`]), sending them over loopback TCP ([`client`]), reading the WAF's match log between marker
//! requests ([`waflog`]), judging each stage ([`check`]) and reporting ([`report`]). [`EchoServer`] is the
//! albedo-compatible backend to put behind the gateway.
//!
//! # What the gateway and its WAF must do
//!
//! - Listen on a loopback address, proxy to an [`EchoServer`], run CRS in test mode
//!   (`/work/shared/crs/crs-test-mode.conf`: DetectionOnly, blocking paranoia level 4, rule 999999).
//! - Append one line per matched rule to a log file (the `log_file` of [`RunOptions`]), containing the id as
//!   ModSecurity does, `[id "942100"]`, or as JSON, `"id":"942100"` / `"id": 942100` / `"ruleId":"942100"`. Text
//!   such as `[msg "..."]` and `[data "Matched Data: ..."]` on the same line is what `match_regex` tests read.
//! - For a request carrying `X-CRS-Test: <value>`, write exactly one line containing both `X-CRS-Test` (any case)
//!   and the value, e.g. `[id "999999"] [msg "X-CRS-Test 1b4e...-s"]` (rule 999999's `msg`), and nothing else for
//!   that request: rule 999999 removes every other rule.
//! - Write a transaction's lines, including logging-phase ones, before the next request on another connection
//!   is processed: the end marker is sent as soon as the response has been read, and lines logged after the end
//!   marker line are lost to the test (go-ftw's `retry_once` exists for this race; it is honoured).
//! - Lines must be appended (never rewritten); truncating the file is tolerated.
//!
//! # How a run works
//!
//! Tests run sequentially, each request on a fresh connection to [`RunOptions::target`] (the tests' own
//! `dest_addr`/`port` are ignored), with [`RunOptions::request_timeout`] for connect + send + response.
//! Per stage: start marker `GET /status/200` with `X-CRS-Test: <uuid>-s`, the stage request (built byte for byte
//! as go-ftw builds it, see [`request`]), the end marker `<uuid>-e`; the lines between the two marker lines
//! are judged with the response ([`check`]). A test passes when all its stages pass. If the very first marker
//! never reaches the log, or five in a row do not, the run stops with [`Error::Marker`].
//!
//! ```no_run
//! use portcullis_crs_test::{run_suite, EchoServer, RunOptions, TestFilter};
//! # fn main() -> Result<(), portcullis_crs_test::Error> {
//! let upstream = EchoServer::start("127.0.0.1:0".parse().unwrap())?;
//! // ... start the gateway in CRS test mode, proxying to upstream.local_addr(), logging to waf.log ...
//! let mut opts = RunOptions::new("/work/shared/crs".as_ref(), "127.0.0.1:8080".parse().unwrap(), "waf.log".as_ref());
//! opts.filter = "942100-1".parse::<TestFilter>().unwrap();
//! let report = run_suite(&opts)?;
//! println!("{report}"); // failures, then "N passed, M failed[, K skipped]"
//! # Ok(()) }
//! ```

pub mod check;
pub mod client;
pub mod echo;
mod error;
pub mod overrides;
pub mod report;
pub mod request;
pub mod runner;
pub mod suite;
mod template;
pub mod waflog;

pub use echo::EchoServer;
pub use error::Error;
pub use overrides::{Override, Overrides};
pub use report::{Report, TestOutcome, Verdict};
pub use runner::{load_selected, run_suite, run_suite_with, tests_dir, RunOptions};
pub use suite::{TestFile, TestFilter, TestId};
