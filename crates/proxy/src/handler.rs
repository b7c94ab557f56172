//! One request's path through the gateway: limits → route → request-header phase → request body →
//! upstream (balancing, timeouts, retries) → response-header phase → response body → logging.
//! Every refusal becomes an RFC 9457 problem response here, in one place ([`problem_response`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::uri::PathAndQuery;
use http::{HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use portcullis_pipeline::{BodyNeed, Problem, RequestCtx, UpstreamInfo, Verdict};

use crate::body::{self, BoxBody, LimitedBody, LoggedBody, MapChunks, OnDone};
use crate::forward::{self, X_REQUEST_ID};
use crate::router::{rewrite_path, Route, RouteAction};
use crate::runtime::Runtime;
use crate::server::ConnShared;
use crate::upstream::{HashKey, InFlightGuard, UpstreamGroup};

static PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");

const ACCESS_TARGET: &str = "portcullis::access";

/// Request bodies up to this size with a known length are read whole before going upstream.
const PREBUFFER_BYTES: u64 = 64 * 1024;

/// What the serving part of a request hands to its logging phase.
#[derive(Default)]
struct Served {
    route: Option<Arc<Route>>,
    /// Keeps the upstream target counted as busy until the response body is done.
    guard: Option<InFlightGuard>,
}

/// The request context, shared with the response-body phase only when a protection needs it.
// Not boxed: the owned context is the common case, and boxing it would cost an allocation per request.
#[allow(clippy::large_enum_variant)]
enum CtxCell {
    Owned(RequestCtx),
    Shared(Arc<Mutex<RequestCtx>>),
}

/// Everything the logging phase needs; runs once when the response body ends or is dropped.
pub struct RequestLog {
    cx: Arc<ConnShared>,
    rt: Arc<Runtime>,
    ctx: CtxCell,
    served: Served,
    status: u16,
    /// Method and path, kept only when the access log is on.
    line: Option<(Method, String)>,
    /// When the response head was ready; taken only for the access log.
    head_done: Option<Instant>,
}

impl OnDone for RequestLog {
    fn done(self, bytes: u64, completed: bool) {
        let RequestLog { cx, rt, ctx, served, status, line, head_done } = self;
        drop(served.guard);
        let guard;
        let ctx: &RequestCtx = match &ctx {
            CtxCell::Owned(c) => c,
            CtxCell::Shared(m) => {
                guard = m.lock().unwrap_or_else(|p| p.into_inner());
                &guard
            }
        };
        // One clock read serves the metrics, the log and the connection's idle clock.
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(ctx.started);
        if let Some(r) = &served.route {
            r.metrics.observe(status, elapsed.as_secs_f64());
        }
        cx.gateway.metrics.in_flight.dec();
        cx.activity.end_at(now);
        for p in &rt.protections {
            if p.phases().logging {
                p.logging(ctx, status);
            }
        }
        if let Some((method, path)) = line {
            tracing::info!(
                target: ACCESS_TARGET,
                request_id = %ctx.request_id,
                client_ip = %ctx.client_ip,
                method = %method,
                path = %path,
                route = ctx.route.as_deref().unwrap_or("-"),
                status,
                bytes,
                completed,
                upstream = ctx.upstream.as_ref().map(|u| &*u.group).unwrap_or("-"),
                target_addr = ctx.upstream.as_ref().map(|u| &*u.target).unwrap_or("-"),
                refused_by = ctx.refused_by.unwrap_or("-"),
                refused_reason = ctx.refused_reason.as_deref().unwrap_or("-"),
                identity = ctx.identity.as_ref().map(|i| &*i.subject).unwrap_or("-"),
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                response_ms = head_done.map_or(0.0, |h| h.saturating_duration_since(ctx.started).as_secs_f64() * 1000.0),
                listener = %ctx.conn.listener,
            );
        }
    }
}

pub type ResponseBody = LoggedBody<RequestLog>;

/// hyper's entry point: never fails; every error becomes a response.
pub async fn handle(cx: Arc<ConnShared>, req: Request<Incoming>) -> Result<Response<ResponseBody>, ConnectionDropped> {
    let rt = cx.gateway.runtime.load_full();
    cx.activity.begin();
    cx.gateway.metrics.in_flight.inc();
    // A client's own id is reused as it came (a reference count, no copy and no second validation).
    let (request_id, request_id_value) = forward::request_id_and_value(req.headers());
    let mut ctx = RequestCtx::new(request_id, cx.conn.clone());
    ctx.client_ip = forward::client_ip_from(
        cx.conn.peer.ip(),
        req.headers(),
        &rt.trusted_proxies,
        rt.config.file.server.client_ip_header,
    );
    let line = tracing::enabled!(target: ACCESS_TARGET, tracing::Level::INFO)
        .then(|| (req.method().clone(), req.uri().path().to_string()));

    let mut served = Served::default();
    let mut resp = match route_and_serve(&cx, &rt, &mut ctx, &mut served, request_id_value.as_ref(), req).await {
        Ok(resp) => resp,
        Err(problem) => problem_response(&ctx, *problem),
    };

    // Response-header phase, for every response (including Portcullis's own problems) that is not dropped.
    if rt.phases.response_headers && !ctx.close_connection {
        // Split once for the whole phase: a response is a few hundred bytes to move per split and rebuild.
        let (mut parts, b) = resp.into_parts();
        let mut answer = None;
        for p in &rt.protections {
            match p.response_headers_filter(&mut ctx, &mut parts) {
                Verdict::Continue => {}
                Verdict::Respond(problem) => {
                    ctx.refused_by = Some(p.name());
                    answer = Some(problem_response(&ctx, *problem));
                    break;
                }
                Verdict::Close => {
                    ctx.refused_by = Some(p.name());
                    ctx.close_connection = true;
                    break;
                }
            }
        }
        resp = answer.unwrap_or_else(|| Response::from_parts(parts, b));
    }
    if ctx.close_connection {
        // Logged like any refusal; hyper closes the connection (HTTP/2: resets the stream) on the error.
        let by = ctx.refused_by.unwrap_or("-");
        let head_done = line.as_ref().map(|_| Instant::now());
        RequestLog { cx, rt, ctx: CtxCell::Owned(ctx), served, status: 0, line, head_done }.done(0, false);
        return Err(ConnectionDropped(by));
    }
    if let Some(v) = request_id_value {
        resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    let status = resp.status().as_u16();

    // Response-body phase.
    let (parts, mut b) = resp.into_parts();
    let ctx = if rt.phases.response_body {
        let shared = Arc::new(Mutex::new(ctx));
        let (rt2, ctx2) = (rt.clone(), shared.clone());
        b = MapChunks::new(b, move |chunk: &mut Bytes, end| {
            let mut ctx = ctx2.lock().unwrap_or_else(|p| p.into_inner());
            rt2.protections.iter().all(|p| p.response_body_filter(&mut ctx, chunk, end).is_continue())
        })
        .boxed_unsync();
        CtxCell::Shared(shared)
    } else {
        CtxCell::Owned(ctx)
    };

    // Logging phase: always, once, when the response is done or abandoned.
    let head_done = line.as_ref().map(|_| Instant::now());
    let log = RequestLog { cx, rt, ctx, served, status, line, head_done };
    Ok(Response::from_parts(parts, LoggedBody::new(b, log)))
}

async fn route_and_serve(
    cx: &Arc<ConnShared>,
    rt: &Arc<Runtime>,
    ctx: &mut RequestCtx,
    served: &mut Served,
    request_id: Option<&HeaderValue>,
    req: Request<Incoming>,
) -> Result<Response<BoxBody>, Box<Problem>> {
    check_limits(&req, rt)?;
    if req.method() == Method::CONNECT {
        // A reverse proxy is no tunnel: CONNECT would otherwise be forwarded upstream as an ordinary request.
        cx.gateway.metrics.refused("connect_method");
        return Err(Box::new(Problem::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "CONNECT is not supported by this gateway.",
        )));
    }
    if let Err(p) = check_framing(req.headers()) {
        cx.gateway.metrics.refused("transfer_coding");
        return Err(p);
    }
    if let Some(port) = cx.redirect_https_port {
        return https_redirect(&req, port);
    }
    let (mut parts, body) = req.into_parts();
    let host = forward::request_host(&parts.headers, &parts.uri);
    let Some(route) = rt.router.find(host, parts.uri.path(), &parts.method, &parts.headers).cloned() else {
        cx.gateway.metrics.refused("no_route");
        return Err(Box::new(Problem::new(StatusCode::NOT_FOUND, "No route matches this request.")));
    };
    ctx.route = Some(route.name.clone());
    served.route = Some(route.clone());

    // Request-header phase.
    if rt.phases.request_headers {
        for p in &rt.protections {
            // May wait on a shared store without holding up this worker's other requests.
            let verdict = p.request_headers_step(ctx, &mut parts).verdict().await;
            refusal(ctx, p.name(), verdict)?;
        }
    }

    // Body size, known up front.
    if let Some(len) =
        parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
    {
        if len > route.max_body_bytes {
            cx.gateway.metrics.refused("body_too_large");
            return Err(Box::new(too_large(route.max_body_bytes)));
        }
    }

    match &route.action {
        RouteAction::Respond { status, body, content_type } => {
            let mut r = Response::new(body::full(body.clone()));
            *r.status_mut() = *status;
            r.headers_mut().insert(CONTENT_TYPE, content_type.clone());
            Ok(r)
        }
        RouteAction::Redirect { to, status } => {
            let mut r = Response::new(body::empty());
            *r.status_mut() = *status;
            r.headers_mut().insert(LOCATION, to.clone());
            Ok(r)
        }
        RouteAction::Proxy { upstream, strip_prefix, add_prefix } => {
            let path_and_query = if strip_prefix.is_some() || add_prefix.is_some() {
                let pq = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                let new = rewrite_path(pq, strip_prefix.as_deref(), add_prefix.as_deref());
                PathAndQuery::try_from(new).map_err(|e| bad_gateway(format!("rewritten path is invalid: {e}")))?
            } else {
                parts.uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"))
            };
            let upstream = upstream.clone();
            proxy(cx, rt, ctx, served, request_id, &route, &upstream, parts, body, path_and_query).await
        }
    }
}

/// A request-side verdict as a result: `Err` carries the problem to answer with, and the refusing protection
/// is noted for the log. `Close` marks the context so [`handle`] drops the connection instead of answering.
fn refusal(ctx: &mut RequestCtx, name: &'static str, verdict: Verdict) -> Result<(), Box<Problem>> {
    match verdict {
        Verdict::Continue => Ok(()),
        Verdict::Respond(problem) => {
            ctx.refused_by = Some(name);
            Err(problem)
        }
        Verdict::Close => {
            ctx.refused_by = Some(name);
            ctx.close_connection = true;
            Err(Box::new(Problem::new(StatusCode::FORBIDDEN, "The request was refused.")))
        }
    }
}

/// Returned to hyper to drop a connection without a response (a protection's `Verdict::Close`).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by {0}")]
pub struct ConnectionDropped(&'static str);

/// The rest of the body is never read, so the connection cannot carry another request: say so, or a client that
/// reuses it races the close.
fn too_large(max: u64) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE, format!("The request body is larger than the {max} bytes allowed."))
        .with_header(http::header::CONNECTION, HeaderValue::from_static("close"))
}

/// Header count/size and URL length limits (hyper's own hard limits sit above these, so the client gets a
/// problem body from us rather than an empty one from hyper).
fn check_limits(req: &Request<Incoming>, rt: &Runtime) -> Result<(), Box<Problem>> {
    let l = &rt.limits;
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > l.max_uri_bytes {
        return Err(Box::new(Problem::new(StatusCode::URI_TOO_LONG, "The request URL is too long.")));
    }
    let h = req.headers();
    let bytes: usize = h.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    if h.len() > l.max_headers || bytes > l.max_header_bytes {
        return Err(Box::new(Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "The request headers are too large.",
        )));
    }
    Ok(())
}

/// A transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`) would reach the upstream still
/// coded, with nothing to say so, once the proxy drops the hop-by-hop `Transfer-Encoding`: answer 501, as
/// RFC 9112 §6.1 asks of a coding the server does not implement, and close (the body is never read). hyper itself
/// refuses a coding list that does not end in `chunked`, and reads a request with both `Transfer-Encoding` and
/// `Content-Length` by the former alone, drops the `Content-Length` and closes the connection after the answer
/// (§6.3), so bytes smuggled behind such a body are never read as a request.
fn check_framing(h: &http::HeaderMap) -> Result<(), Box<Problem>> {
    let mut codings = h
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|b| *b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty());
    if codings.all(|t| t.eq_ignore_ascii_case(b"chunked")) {
        return Ok(());
    }
    Err(Box::new(
        Problem::new(StatusCode::NOT_IMPLEMENTED, "Only the chunked transfer coding is supported.")
            .with_header(http::header::CONNECTION, HeaderValue::from_static("close")),
    ))
}

fn https_redirect(req: &Request<Incoming>, port: u16) -> Result<Response<BoxBody>, Box<Problem>> {
    let host = forward::request_host(req.headers(), req.uri());
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    // Without a usable host (no Host header on HTTP/1.0, or one that is not a plain host) there is nothing to
    // redirect to: `https://:8443/` or `https://user@host/` would be broken or misleading.
    if host.is_empty() || host.contains('@') || host.parse::<http::uri::Authority>().is_err() {
        return Err(Box::new(Problem::new(
            StatusCode::BAD_REQUEST,
            "The request has no valid Host to redirect to HTTPS.",
        )));
    }
    let pq = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let loc = if port == 443 { format!("https://{host}{pq}") } else { format!("https://{host}:{port}{pq}") };
    let mut r = Response::new(body::empty());
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(LOCATION, v);
    }
    Ok(r)
}

/// The single place where a refusal becomes a response: RFC 9457 problem+json with the request id.
pub fn problem_response(ctx: &RequestCtx, p: Problem) -> Response<BoxBody> {
    if let Some(reason) = &p.log_reason {
        tracing::info!(request_id = %ctx.request_id, status = p.status.as_u16(), reason = %reason, "request refused");
    }
    let body = p.body_json(Some(&ctx.request_id));
    let mut r = Response::new(body::full(body));
    *r.status_mut() = p.status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, PROBLEM_JSON.clone());
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (n, v) in p.headers {
        h.append(n, v);
    }
    r
}

fn bad_gateway(reason: String) -> Box<Problem> {
    Box::new(Problem::new(StatusCode::BAD_GATEWAY, "The upstream service is unavailable.").with_log_reason(reason))
}

fn gateway_timeout(reason: String) -> Box<Problem> {
    Box::new(
        Problem::new(StatusCode::GATEWAY_TIMEOUT, "The upstream service did not answer in time.")
            .with_log_reason(reason),
    )
}

fn hash_key(key: &HashKey, ctx: &RequestCtx, parts: &http::request::Parts) -> Vec<u8> {
    match key {
        HashKey::ClientIp => ctx.client_ip.to_string().into_bytes(),
        HashKey::Path => parts.uri.path().as_bytes().to_vec(),
        HashKey::Header(h) => parts.headers.get(h).map(|v| v.as_bytes().to_vec()).unwrap_or_default(),
        HashKey::Cookie(name) => parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_bytes().to_vec())
            .unwrap_or_default(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn proxy(
    cx: &Arc<ConnShared>,
    rt: &Arc<Runtime>,
    ctx: &mut RequestCtx,
    served: &mut Served,
    request_id: Option<&HeaderValue>,
    route: &Arc<Route>,
    group: &Arc<UpstreamGroup>,
    mut parts: http::request::Parts,
    body: Incoming,
    path_and_query: PathAndQuery,
) -> Result<Response<BoxBody>, Box<Problem>> {
    let upgrade = parts.version == Version::HTTP_11 && forward::is_upgrade(&parts.headers);
    let client_upgrade = if upgrade { parts.extensions.remove::<hyper::upgrade::OnUpgrade>() } else { None };
    let host_value = parts
        .headers
        .get(HOST)
        .cloned()
        .or_else(|| parts.uri.authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
    // Room for the forwarding headers added below, so the map grows (and rehashes) at most once.
    parts.headers.reserve(6);
    forward::remove_hop_by_hop(&mut parts.headers, upgrade);
    forward::set_forwarded(&mut parts.headers, &cx.peer, host_value.as_ref(), &rt.trusted_proxies);
    if let Some(v) = request_id {
        parts.headers.insert(X_REQUEST_ID.clone(), v.clone());
    }
    if !parts.headers.contains_key(HOST) {
        if let Some(h) = &host_value {
            parts.headers.insert(HOST, h.clone());
        }
    }

    // Request body: minimum rate (slow-body defence), size limit while streaming, and the body phase for
    // protections that want it.
    let no_body = body.is_end_stream();
    // A request without a body (most GETs) has nothing to wrap, time or box.
    let (body, slow) = if no_body { (body::empty(), None) } else { min_body_rate(rt, body) };
    let small = body.size_hint().exact().is_some_and(|n| n <= PREBUFFER_BYTES);
    let (mut up_body, fault) = if no_body {
        (body, None)
    } else if small {
        // A small body of known length is read whole before connecting upstream (as nginx does with
        // proxy_request_buffering): the upstream gets head and body in one write, and a slow client never
        // holds an upstream connection. The Content-Length check above already bounds it.
        match body.collect().await {
            Ok(b) => (body::full(b.to_bytes()), None),
            Err(e) => {
                if is_slow(&slow) {
                    return Err(slow_body(cx, ctx));
                }
                cx.gateway.metrics.refused("bad_request_body");
                return Err(Box::new(
                    Problem::new(StatusCode::BAD_REQUEST, "The request body could not be read.")
                        .with_log_reason(error_chain(&*e)),
                ));
            }
        }
    } else {
        let limited = LimitedBody::new(body, route.max_body_bytes);
        let fault = limited.fault.clone();
        (limited.boxed_unsync(), Some(fault))
    };
    if rt.phases.request_body && !no_body {
        up_body = match request_body_phase(rt, ctx, up_body, route.max_body_bytes).await {
            Err(_) if is_slow(&slow) => return Err(slow_body(cx, ctx)),
            r => r?,
        };
    }

    let key = group.balancer.hash_key().map(|k| hash_key(k, ctx, &parts));
    let idempotent = matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    );
    let mut retries_left = if idempotent && no_body && !upgrade { group.retries.attempts } else { 0 };
    let timeouts = &group.timeouts;
    let started = Instant::now();
    let deadline = started + timeouts.total.0;
    // The first attempt starts at the time just read; a retry reads the clock again.
    let mut attempt_start = Some(started);
    group.deposit();

    // The request travels in origin-form (`/path?query`) with its Host: the pool speaks to one target per
    // connection, so no absolute URI is needed.
    parts.uri = http::Uri::from(path_and_query);
    parts.version = Version::HTTP_11;
    let mut excluded = None;
    let mut last_error: Option<Box<Problem>> = None;
    let mut up_body = Some(up_body);
    let (resp, guard) = loop {
        let Some(guard) = group.select(key.as_deref(), excluded.as_ref()) else {
            // A retry that finds no other target answers with the failure that caused it.
            if let Some(e) = last_error {
                return Err(e);
            }
            cx.gateway.metrics.refused("no_healthy_upstream");
            return Err(Box::new(
                Problem::new(StatusCode::SERVICE_UNAVAILABLE, "The upstream service is unavailable.")
                    .with_log_reason(format!("upstream {:?}: no healthy target", group.name)),
            ));
        };
        let target = guard.target().clone();
        let info = UpstreamInfo { group: group.name.clone(), target: target.addr.clone() };
        if rt.phases.upstream_selected {
            for p in &rt.protections {
                if let Verdict::Respond(problem) = p.upstream_selected_filter(ctx, &info, &mut parts) {
                    ctx.refused_by = Some(p.name());
                    return Err(problem);
                }
            }
        }
        ctx.upstream = Some(info);
        if !parts.headers.contains_key(HOST) {
            // HTTP/1.0 without Host: HTTP/1.1 upstreams require one.
            parts.headers.insert(HOST, target.host.clone());
        }
        let sent = attempt_start.take().unwrap_or_else(Instant::now);
        let budget = deadline.saturating_duration_since(sent).min(timeouts.response.0);
        // One timer covers connecting and the response head. It is polled after the attempt (as
        // `tokio::time::timeout` does), so an idle pooled connection and a quick upstream never arm it twice.
        // It is the connection's reusable `Sleep` when free (`conn_timer`: no timer-wheel insert per request).
        let timer = cx.upstream_timer.deadline(sent + budget);
        tokio::pin!(timer);
        // Connecting comes first and consumes nothing, so a connect failure can be retried elsewhere without a
        // copy of the request.
        let attempt = async {
            let conn = group.pool.checkout(&target).await?;
            let b = up_body.take().unwrap_or_else(body::empty);
            let req = Request::from_parts(std::mem::replace(&mut parts, empty_parts()), b);
            group.pool.send(&target, conn, req).await
        };
        let result = tokio::select! {
            biased;
            r = attempt => Ok(r),
            () = &mut timer => Err(()),
        };
        match result {
            Ok(Ok(resp)) => {
                route.metrics.upstream_duration.observe(sent.elapsed().as_secs_f64());
                if matches!(resp.status().as_u16(), 502..=504) {
                    group.report_failure(&target, "status");
                } else {
                    group.report_success(&target);
                }
                break (resp, guard);
            }
            Ok(Err(e)) => {
                if is_slow(&slow) {
                    return Err(slow_body(cx, ctx));
                }
                if fault.as_ref().is_some_and(|f| f.too_large.load(Ordering::Relaxed)) {
                    cx.gateway.metrics.refused("body_too_large");
                    return Err(Box::new(too_large(route.max_body_bytes)));
                }
                if fault.as_ref().is_some_and(|f| f.client_error.load(Ordering::Relaxed)) {
                    cx.gateway.metrics.refused("bad_request_body");
                    return Err(Box::new(
                        Problem::new(StatusCode::BAD_REQUEST, "The request body could not be read.")
                            .with_log_reason(error_chain(&e)),
                    ));
                }
                let connect = e.is_connect();
                group.report_failure(&target, if connect { "connect" } else { "request" });
                let chain = error_chain(&e);
                let timed_out = chain.contains("timed out");
                let reason = format!("upstream {:?} target {}: {chain}", group.name, target.addr);
                let problem = if timed_out { gateway_timeout(reason.clone()) } else { bad_gateway(reason.clone()) };
                // Only a failed checkout is retried: the request (still in `parts`) was never handed over.
                if connect
                    && up_body.is_some()
                    && retries_left > 0
                    && Instant::now() < deadline
                    && group.withdraw_retry()
                {
                    retries_left -= 1;
                    tracing::debug!(request_id = %ctx.request_id, %reason, "retrying on another target");
                    excluded = Some(target);
                    last_error = Some(problem);
                    continue;
                }
                return Err(problem);
            }
            Err(_) => {
                group.report_failure(&target, "timeout");
                return Err(gateway_timeout(format!(
                    "upstream {:?} target {}: no response within {:?}",
                    group.name, target.addr, budget
                )));
            }
        }
    };

    let (mut rparts, rbody) = resp.into_parts();
    if rparts.status == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_upgrade) = client_upgrade {
            let mut upstream_resp = Response::from_parts(rparts.clone(), ());
            let upstream_upgrade = hyper::upgrade::on(&mut upstream_resp);
            let _ = rbody;
            let request_id = ctx.request_id.clone();
            tokio::spawn(async move {
                let _guard = guard;
                match tokio::try_join!(client_upgrade, upstream_upgrade) {
                    Ok((c, u)) => {
                        let mut c = hyper_util::rt::TokioIo::new(c);
                        let mut u = hyper_util::rt::TokioIo::new(u);
                        let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
                    }
                    Err(e) => tracing::debug!(%request_id, error = %e, "upgrade failed"),
                }
            });
            return Ok(Response::from_parts(rparts, body::empty()));
        }
    }
    forward::remove_hop_by_hop(&mut rparts.headers, false);
    // The target stays counted as busy until the logging phase, when the response body is done.
    served.guard = Some(guard);
    Ok(Response::from_parts(rparts, rbody.map_err(Into::into).boxed_unsync()))
}

/// Wraps the request body with `limits.min_body_rate` when set; the flag tells a slow body from other
/// body errors.
fn min_body_rate(rt: &Runtime, body: Incoming) -> (BoxBody, Option<Arc<AtomicBool>>) {
    let l = &rt.config.file.limits;
    match l.min_body_rate {
        Some(rate) => {
            let b = portcullis_ipguard::MinRateBody::new(body, rate.0, l.min_body_rate_grace.0);
            let flag = b.flag();
            (b.boxed_unsync(), Some(flag))
        }
        _ => (body.map_err(Into::into).boxed_unsync(), None),
    }
}

fn is_slow(flag: &Option<Arc<AtomicBool>>) -> bool {
    flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// The answer to a body slower than `limits.min_body_rate`: 408, counted.
fn slow_body(cx: &ConnShared, ctx: &mut RequestCtx) -> Box<Problem> {
    cx.gateway.metrics.slow_client("slow_body");
    ctx.refused_by = Some("slow_body");
    ctx.refused_reason = Some("request body below limits.min_body_rate".into());
    // hyper does not reuse a connection whose request body was not read to the end.
    Box::new(Problem::new(StatusCode::REQUEST_TIMEOUT, "The request body arrived too slowly."))
}

fn empty_parts() -> http::request::Parts {
    Request::new(()).into_parts().0
}

/// Feeds the request body to the protections that asked for it: buffered (up to the largest limit asked)
/// or chunk by chunk. Returns the body to send upstream.
async fn request_body_phase(
    rt: &Arc<Runtime>,
    ctx: &mut RequestCtx,
    body: BoxBody,
    max_body: u64,
) -> Result<BoxBody, Box<Problem>> {
    let needs: Vec<(usize, BodyNeed)> = rt
        .protections
        .iter()
        .enumerate()
        .filter(|(_, p)| p.phases().request_body)
        .filter_map(|(i, p)| p.request_body_need(ctx).map(|n| (i, n)))
        .collect();
    if needs.is_empty() {
        return Ok(body);
    }
    // Buffering covers streaming needs too: a streamed protection sees the buffer as one chunk.
    let limit = needs
        .iter()
        .map(|(_, n)| match n {
            BodyNeed::Buffer(l) => *l,
            BodyNeed::Stream => usize::try_from(max_body).unwrap_or(usize::MAX),
        })
        .max()
        .unwrap_or(0)
        .min(usize::try_from(max_body).unwrap_or(usize::MAX));
    let mut buf = bytes::BytesMut::new();
    let mut body = body;
    let mut complete = true;
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(d) = frame.into_data() {
                    buf.extend_from_slice(&d);
                    if buf.len() > limit {
                        complete = false;
                        break;
                    }
                }
            }
            Some(Err(e)) => {
                if e.is::<body::TooLarge>() {
                    return Err(Box::new(too_large(max_body)));
                }
                return Err(Box::new(
                    Problem::new(StatusCode::BAD_REQUEST, "The request body could not be read.")
                        .with_log_reason(e.to_string()),
                ));
            }
            None => break,
        }
    }
    let chunk = buf.freeze();
    for (i, _) in &needs {
        let p = &rt.protections[*i];
        let verdict = p.request_body_filter(ctx, &chunk, complete);
        refusal(ctx, p.name(), verdict)?;
    }
    let head = body::full(chunk);
    if complete {
        return Ok(head);
    }
    // Over the inspection limit: send what was read, then stream the rest uninspected.
    let rest = body;
    let chained = http_body_util::StreamBody::new(futures_util::stream::unfold(
        (Some(head), rest),
        |(head, mut rest)| async move {
            if let Some(mut h) = head {
                if let Some(f) = h.frame().await {
                    return Some((f, (Some(h), rest)));
                }
            }
            rest.frame().await.map(|f| (f, (None, rest)))
        },
    ));
    Ok(chained.boxed_unsync())
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
