//! The evaluation harness: how well does the gateway, with a given config, tell attacks from benign API traffic?
//!
//! It owns the corpus format ([`corpus`]), turning an entry into the exact bytes sent ([`request`]), running a
//! corpus through an in-process gateway in front of an echo upstream over real loopback sockets ([`run`]),
//! judging each response ([`outcome`]) with the WAF rules that matched it ([`waflog`]), the per class × placement tables ([`report`]) and the CI floors
//! ([`floors`]). It never looks inside the gateway: a request counts as refused only by what the client sees.
//! The corpus lives in `tests/corpus/` (see its README); `portcullis eval` is the command.
//!
//! ```no_run
//! # async fn f() -> Result<(), portcullis_eval::Error> {
//! let corpus = portcullis_eval::corpus::load_dir("tests/corpus".as_ref())?;
//! let config = portcullis_eval::run::default_config()?;
//! let results = portcullis_eval::run::run(config, &corpus, &Default::default()).await?;
//! let report = portcullis_eval::report::Report::new(&results);
//! print!("{}", report.text());
//! # Ok(()) }
//! ```

pub mod corpus;
mod error;
pub mod floors;
pub mod outcome;
pub mod report;
pub mod request;
pub mod run;
pub mod waflog;

pub use error::Error;
