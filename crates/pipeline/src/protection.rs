use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{request, response};

use crate::{ConnInfo, RequestCtx, UpstreamInfo, Verdict};

/// Which phases a protection takes part in, so the proxy skips the rest (and never wraps a body stream that
/// nobody inspects).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    pub connection: bool,
    pub request_headers: bool,
    pub request_body: bool,
    pub upstream_selected: bool,
    pub response_headers: bool,
    pub response_body: bool,
    pub logging: bool,
}

impl Phases {
    /// The union of two phase sets.
    pub fn union(self, o: Phases) -> Phases {
        Phases {
            connection: self.connection || o.connection,
            request_headers: self.request_headers || o.request_headers,
            request_body: self.request_body || o.request_body,
            upstream_selected: self.upstream_selected || o.upstream_selected,
            response_headers: self.response_headers || o.response_headers,
            response_body: self.response_body || o.response_body,
            logging: self.logging || o.logging,
        }
    }
}

/// A phase's answer when it may have to wait: the verdict now, or a future that yields it.
pub enum PhaseStep<'a> {
    /// Decided without waiting.
    Done(Verdict),
    /// Decided once this resolves (bounded by the protection's own timeouts).
    Wait(Pin<Box<dyn Future<Output = Verdict> + Send + 'a>>),
}

impl<'a> PhaseStep<'a> {
    /// The verdict, awaiting it if needed.
    pub async fn verdict(self) -> Verdict {
        match self {
            PhaseStep::Done(v) => v,
            PhaseStep::Wait(f) => f.await,
        }
    }
}

/// How a protection wants to see the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyNeed {
    /// Chunk by chunk, as it arrives.
    Stream,
    /// The whole body at once, up to this many bytes (the proxy buffers; beyond the limit it streams the
    /// rest and says so with `end = false` on the buffered part).
    Buffer(usize),
}

/// A protection: built once from validated config, then called per request without failing.
///
/// Every method has a default that lets the request through, so a protection implements only its phases and
/// declares them in [`Protection::phases`]. Phase methods end in `_filter`, like pingora's.
pub trait Protection: Send + Sync + 'static {
    /// Short stable name, used in logs and metrics (`headers`, `waf`, `ratelimit`...).
    fn name(&self) -> &'static str;

    /// The phases this protection implements.
    fn phases(&self) -> Phases;

    /// A new connection was accepted (before TLS). `Close` drops it.
    fn connection_filter(&self, _conn: &ConnInfo) -> Verdict {
        Verdict::Continue
    }

    /// The request line and headers are in; the route is matched. May rewrite the request.
    fn request_headers_filter(&self, _ctx: &mut RequestCtx, _req: &mut request::Parts) -> Verdict {
        Verdict::Continue
    }

    /// The request-headers phase for protections that may wait on I/O (a shared state store): the proxy calls
    /// this one, and awaits [`PhaseStep::Wait`] without holding up its worker thread for other requests.
    ///
    /// The default runs [`Protection::request_headers_filter`] and answers [`PhaseStep::Done`], so a protection
    /// that never waits implements only the synchronous method, and the common path costs no allocation.
    fn request_headers_step<'a>(&'a self, ctx: &'a mut RequestCtx, req: &'a mut request::Parts) -> PhaseStep<'a> {
        PhaseStep::Done(self.request_headers_filter(ctx, req))
    }

    /// How this protection wants the request body, decided per request after the headers phase.
    /// `None`: it does not look at this body.
    fn request_body_need(&self, _ctx: &RequestCtx) -> Option<BodyNeed> {
        None
    }

    /// A piece of the request body. `end` is true on the last piece.
    fn request_body_filter(&self, _ctx: &mut RequestCtx, _chunk: &Bytes, _end: bool) -> Verdict {
        Verdict::Continue
    }

    /// The upstream target is chosen; last chance to adjust what is sent.
    fn upstream_selected_filter(
        &self,
        _ctx: &mut RequestCtx,
        _upstream: &UpstreamInfo,
        _req: &mut request::Parts,
    ) -> Verdict {
        Verdict::Continue
    }

    /// The response head from the upstream (or from Portcullis itself). May rewrite headers.
    fn response_headers_filter(&self, _ctx: &mut RequestCtx, _resp: &mut response::Parts) -> Verdict {
        Verdict::Continue
    }

    /// A piece of the response body; the protection may replace it (masking). `end` is true on the last.
    fn response_body_filter(&self, _ctx: &mut RequestCtx, _chunk: &mut Bytes, _end: bool) -> Verdict {
        Verdict::Continue
    }

    /// Always runs once per request, also after a refusal or an upstream error.
    fn logging(&self, _ctx: &RequestCtx, _status: u16) {}
}
