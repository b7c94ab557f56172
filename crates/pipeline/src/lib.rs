//! The phase pipeline: the one shape every Portcullis protection takes.
//!
//! A request travels through ordered phases (see `docs/phases.md`):
//!
//! ```text
//! connection accepted → request headers → request body chunks → upstream selected
//!                     → response headers → response body chunks → logging (always)
//! ```
//!
//! A protection is built once from validated config and implements [`Protection`] for the phases it needs.
//! Each phase returns a [`Verdict`]; the proxy turns every refusal into one response shape (RFC 9457
//! problem+json, [`Problem`]) in one place. Owns: the trait, the per-request [`RequestCtx`], verdicts and the
//! problem body. Must not touch: sockets, HTTP framing, config parsing.

mod context;
mod problem;
mod protection;
mod verdict;

pub use context::{AuthMethod, ClientCert, ConnInfo, Identity, RateLimitTicket, RequestCtx, UpstreamInfo};
pub use problem::Problem;
pub use protection::{BodyNeed, PhaseStep, Phases, Protection};
pub use verdict::Verdict;
