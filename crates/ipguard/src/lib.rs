//! IP monitoring, the protection that runs first: allow/deny lists by CIDR (inline and FireHOL / Spamhaus
//! style list files, reloaded when they change), country allow/deny from a MaxMind database, per-IP
//! statistics with a fixed memory cap, the per-IP connection counter the proxy's accept loop uses, and the
//! minimum request-body rate.
//!
//! Owns: address sets, list parsing, country lookups, the statistics table. Must not touch: sockets, the
//! trusted-proxy rules that decide `ctx.client_ip` (`portcullis-proxy::forward`), rate limits and bans.

pub mod conncap;
pub mod geo;
mod guard;
pub mod ipset;
pub mod listfile;
mod lists;
pub mod mmdb_writer;
pub mod slowbody;
pub mod stats;

pub use conncap::{ConnSlot, ConnTracker};
pub use guard::{DecisionLabels, GuardShared, IpGuard, REASON_COUNTRY, REASON_DENY_LIST};
pub use ipset::IpSet;
pub use slowbody::{MinRateBody, SlowBody};
pub use stats::{IpStat, IpStats};
