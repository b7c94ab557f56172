//! go-ftw compatible regression runner for the OWASP CRS suite, and the echo upstream the suite needs.
//!
//! This crate owns everything around the WAF, never the WAF itself: loading the go-ftw YAML tests
//! ([`suite`]), our expectation overrides ([`overrides`]), building the raw requests exactly as go-ftw does
//! ([`request`]), sending them over loopback TCP ([`client`]), reading the WAF's match log between marker
//! requests ([`waflog`]), judging each stage ([`check`]) and reporting ([`report`]). [`EchoServer`] is the
//! albedo-compatible backend to put behind the gateway.
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
