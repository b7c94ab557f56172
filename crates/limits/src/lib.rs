//! Traffic defence: rate limits (GCRA, keyed by IP, identity, header, route or global), load shedding
//! (in-flight caps → 503), and automatic bans with escalation — on one node, or across a fleet through the
//! Redis store.
//!
//! Phases: `connection_filter` drops banned peers (local lookup); `request_headers_filter` refuses banned
//! clients (403), sheds load (503 + `Retry-After`) and checks the route's limits (429 + `Retry-After` +
//! RateLimit fields); `response_headers_filter` adds the RateLimit fields to allowed responses; `logging`
//! releases in-flight slots and feeds the ban policies. Requests marked `ctx.allowlisted` skip all of it.
//!
//! Owns: what is limited and what a store failure means for a request. Must not touch: how state is stored
//! (portcullis-store), who the client is (identity and IP protections set `ctx.identity`, `ctx.client_ip`,
//! `ctx.allowlisted`).

pub mod fields;
mod key;
pub mod metrics;
mod protection;
mod shared;

pub use protection::{store_spec, store_unavailable, LimitsError, TrafficGuard, NAME, SECURITY_TARGET};
pub use shared::{traffic, InFlight, Traffic};

/// Appends the traffic metrics to the proxy's Prometheus exposition.
pub fn append_metrics(out: &mut String) {
    traffic().metrics.append_to(out);
}
