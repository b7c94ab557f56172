//! [`WafProtection`]: one engine per config, one transaction per request (kept in the context's WAF slot,
//! `ctx.waf`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::LOCATION;
use http::{request, response, HeaderValue, StatusCode, Version};
use portcullis_config::{Config, WafMode};
use portcullis_pipeline::{BodyNeed, Phases, Problem, Protection, RequestCtx, UpstreamInfo, Verdict};
use portcullis_waf::rule::SEVERITIES;
use portcullis_waf::{EngineMode, Intervention, InterventionAction, Transaction, TxInfo};

use crate::build::{build_engine, waf_used};
use crate::header_name::with_canonical;
use crate::phase_times::{PhaseCounters, PhaseTimes, WafPhase};
use crate::{MatchLog, WafError};

/// Tracing target of security events (one per rule match).
pub const SECURITY_TARGET: &str = "portcullis::security";

/// What a client is told when the WAF blocks: nothing about rules (those go to the log).
const BLOCKED_DETAIL: &str = "The request was blocked by a security policy. Quote the request id when asking for help.";

/// A route's effective WAF settings.
#[derive(Debug, Clone)]
struct RoutePolicy {
    mode: WafMode,
    remove: Vec<(u32, u32)>,
    /// CRS paranoia level pinned on this route's transactions (`routes.waf.paranoia_level`).
    paranoia: Option<u8>,
}

/// The WAF protection, built once per config load.
pub struct WafProtection {
    engine: Arc<portcullis_waf::Engine>,
    default: RoutePolicy,
    routes: HashMap<String, RoutePolicy>,
    log: Option<MatchLog>,
    phases: Phases,
    /// The engine's time per phase (`portcullis_waf_phase_seconds_total`, [`Self::with_phase_times`]).
    times: PhaseCounters,
}

impl std::fmt::Debug for WafProtection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WafProtection").field("default", &self.default).field("routes", &self.routes).finish()
    }
}

/// Per-request state, in the context's WAF slot (`RequestCtx::waf`, `Any` to the pipeline); the logging phase
/// has the context shared only, hence the `Mutex` (never contended: one request's phases run in turn).
type WafTx = Mutex<TxState>;

struct TxState {
    tx: Transaction,
    phase2_done: bool,
    /// The response body is inspected in phase 4 (held back up to the limit).
    inspect_response: bool,
    held: Vec<u8>,
    /// More than the limit arrived: the rest streams uninspected.
    released: bool,
    /// Response status (for the events) and `Content-Length`, to know the last body byte when it passes.
    status: u16,
    expected_len: Option<u64>,
    seen: u64,
    /// Phase 5 ran and the log lines are written.
    finished: bool,
}

impl WafProtection {
    /// Builds the WAF from config, or `None` when no route runs it (`waf.mode = "off"` and no route turns it
    /// on), so a config without the WAF adds nothing to the request path.
    pub fn build(config: &Config) -> Result<Option<WafProtection>, WafError> {
        let f = &config.file;
        let route_policy = |w: &portcullis_config::RouteWafSection| RoutePolicy {
            mode: w.mode.unwrap_or(f.waf.mode),
            remove: crate::build::route_removals(&w.remove_rules),
            paranoia: w.paranoia_level,
        };
        let routes: HashMap<String, RoutePolicy> =
            f.routes.iter().filter_map(|r| r.waf.as_ref().map(|w| (r.name.clone(), route_policy(w)))).collect();
        if !waf_used(config) {
            return Ok(None);
        }
        let engine = Arc::new(build_engine(config)?);
        let log = f.waf.log.as_ref().map(|p| MatchLog::open(&config.resolve(p))).transpose()?;
        let s = engine.settings();
        let phases = Phases {
            request_headers: true,
            request_body: s.request_body_access,
            upstream_selected: true,
            response_headers: true,
            response_body: s.response_body_access,
            logging: true,
            ..Phases::default()
        };
        tracing::info!(
            rules = engine.rule_count(),
            mode = ?f.waf.mode,
            request_body_limit = s.request_body_limit,
            response_body_access = s.response_body_access,
            "WAF rule set loaded"
        );
        Ok(Some(WafProtection {
            engine,
            default: RoutePolicy { mode: f.waf.mode, remove: Vec::new(), paranoia: None },
            routes,
            log,
            phases,
            times: PhaseTimes::default().counters(),
        }))
    }

    /// Counts the engine's time per phase into `times` (the gateway's exported counters).
    pub fn with_phase_times(mut self, times: &PhaseTimes) -> Self {
        self.times = times.counters();
        self
    }

    /// The compiled rule set.
    pub fn engine(&self) -> &Arc<portcullis_waf::Engine> {
        &self.engine
    }

    fn policy(&self, route: Option<&str>) -> &RoutePolicy {
        route.and_then(|r| self.routes.get(r)).unwrap_or(&self.default)
    }

    fn state(ctx: &RequestCtx) -> Option<&WafTx> {
        ctx.waf.as_ref()?.downcast_ref::<WafTx>()
    }

    /// Turns an intervention into the one verdict shape; the rule id goes to the log only.
    fn verdict(&self, iv: &Intervention) -> Verdict {
        let reason = format!("waf rule {}", iv.rule_id);
        match &iv.action {
            InterventionAction::Drop => Verdict::Close,
            InterventionAction::Deny => {
                let status =
                    StatusCode::from_u16(iv.status).ok().filter(|s| s.as_u16() >= 400).unwrap_or(StatusCode::FORBIDDEN);
                Verdict::respond(Problem::new(status, BLOCKED_DETAIL).with_log_reason(reason))
            }
            InterventionAction::Redirect { url } => {
                let status =
                    StatusCode::from_u16(iv.status).ok().filter(|s| s.is_redirection()).unwrap_or(StatusCode::FOUND);
                let mut p = Problem::new(status, BLOCKED_DETAIL).with_log_reason(reason);
                if let Ok(v) = HeaderValue::from_str(url) {
                    p = p.with_header(LOCATION, v);
                }
                Verdict::respond(p)
            }
        }
    }

    /// Phase 2, once per request (requests without a body run it before going upstream).
    fn ensure_phase2(&self, st: &mut TxState) -> Option<Verdict> {
        if st.phase2_done {
            return None;
        }
        st.phase2_done = true;
        self.times.time(WafPhase::RequestBody, || st.tx.process_request_body()).map(|iv| self.verdict(&iv))
    }
}

fn engine_mode(m: WafMode) -> EngineMode {
    match m {
        WafMode::On => EngineMode::On,
        WafMode::DetectionOnly => EngineMode::DetectionOnly,
        WafMode::Off => EngineMode::Off,
    }
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// The request target REQUEST_URI is made from. HTTP/2 requests carry scheme and authority in the URI;
/// REQUEST_URI is the path and query, as a client on HTTP/1.1 sends it (absolute-form HTTP/1 requests keep
/// their form: the engine handles it). An origin-form target (no scheme, no authority, a path starting with
/// `/`: nearly every request) is what `Uri`'s `Display` writes back (its path, then `?` and its query), so it
/// is borrowed as parsed instead of formatted into a new string (about 1 k instructions per request).
fn request_target(req: &request::Parts) -> Cow<'_, str> {
    let pq = req.uri.path_and_query();
    if req.version == Version::HTTP_2 {
        return Cow::Borrowed(pq.map_or("/", |p| p.as_str()));
    }
    match pq {
        Some(p) if req.uri.scheme().is_none() && req.uri.authority().is_none() && p.as_str().starts_with('/') => {
            Cow::Borrowed(p.as_str())
        }
        _ => Cow::Owned(req.uri.to_string()),
    }
}

fn lock(w: &WafTx) -> std::sync::MutexGuard<'_, TxState> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

impl Protection for WafProtection {
    fn name(&self) -> &'static str {
        "waf"
    }

    fn phases(&self) -> Phases {
        self.phases
    }

    fn request_headers_filter(&self, ctx: &mut RequestCtx, req: &mut request::Parts) -> Verdict {
        let policy = self.policy(ctx.route.as_deref());
        if policy.mode == WafMode::Off {
            return Verdict::Continue;
        }
        // The state is boxed first and the transaction filled in place: a `Transaction` is a large struct, and
        // building it on the stack then moving it into the state and the box copied it whole twice.
        let mut state = Box::new(Mutex::new(TxState {
            tx: self.engine.transaction(TxInfo {
                unique_id: ctx.request_id.clone(),
                client_addr: ctx.client_ip,
                client_port: ctx.conn.peer.port(),
                server_addr: ctx.conn.local.ip(),
                server_port: ctx.conn.local.port(),
            }),
            phase2_done: false,
            inspect_response: false,
            held: Vec::new(),
            released: false,
            status: 0,
            expected_len: None,
            seen: 0,
            finished: false,
        }));
        let tx = &mut state.get_mut().unwrap_or_else(|p| p.into_inner()).tx;
        tx.set_engine_mode(engine_mode(policy.mode));
        if !policy.remove.is_empty() {
            tx.remove_rules_by_id(&policy.remove);
        }
        if let Some(pl) = policy.paranoia {
            // validated to 1–4: one digit
            let level = [b'0' + pl.min(9)];
            tx.pin_tx("blocking_paranoia_level", &level);
            tx.pin_tx("detection_paranoia_level", &level);
        }
        tx.request_line(req.method.as_str(), &request_target(req), protocol(req.version));
        if !req.headers.contains_key(http::header::HOST) {
            if let Some(a) = req.uri.authority() {
                tx.request_header(b"Host", a.as_str().as_bytes());
            }
        }
        for (n, v) in &req.headers {
            with_canonical(n.as_str().as_bytes(), |n| tx.request_header(n, v.as_bytes()));
        }
        let iv = self.times.time(WafPhase::RequestHeaders, || tx.process_request_headers());
        ctx.waf = Some(state);
        match iv {
            Some(iv) => self.verdict(&iv),
            None => Verdict::Continue,
        }
    }

    fn request_body_need(&self, ctx: &RequestCtx) -> Option<BodyNeed> {
        Self::state(ctx)?;
        Some(BodyNeed::Buffer(self.engine.settings().request_body_limit))
    }

    fn request_body_filter(&self, ctx: &mut RequestCtx, chunk: &Bytes, _end: bool) -> Verdict {
        let Some(w) = Self::state(ctx) else { return Verdict::Continue };
        let mut st = lock(w);
        if st.phase2_done {
            return Verdict::Continue;
        }
        if let Err(e) = st.tx.append_request_body(chunk) {
            st.phase2_done = true;
            return Verdict::respond(
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large to be inspected.")
                    .with_log_reason(format!("waf: {e}")),
            );
        }
        self.ensure_phase2(&mut st).unwrap_or(Verdict::Continue)
    }

    fn upstream_selected_filter(
        &self,
        ctx: &mut RequestCtx,
        _upstream: &UpstreamInfo,
        _req: &mut request::Parts,
    ) -> Verdict {
        let Some(w) = Self::state(ctx) else { return Verdict::Continue };
        let mut st = lock(w);
        match self.ensure_phase2(&mut st) {
            // This phase cannot close the connection; a `drop` is answered with a plain refusal.
            Some(Verdict::Close) => {
                Verdict::respond(Problem::new(StatusCode::FORBIDDEN, BLOCKED_DETAIL).with_log_reason("waf drop"))
            }
            Some(v) => v,
            None => Verdict::Continue,
        }
    }

    fn response_headers_filter(&self, ctx: &mut RequestCtx, resp: &mut response::Parts) -> Verdict {
        let Some(w) = Self::state(ctx) else { return Verdict::Continue };
        let mut st = lock(w);
        // Our own refusal: the transaction already has its intervention; nothing more to inspect, so phase 5
        // and the log lines now, before the refusal goes out.
        if st.tx.intervention().is_some() {
            st.status = resp.status.as_u16();
            self.finish(ctx, &mut st);
            return Verdict::Continue;
        }
        // Routes that answer directly (respond/redirect) never selected an upstream: phase 2 runs here.
        if let Some(v) = self.ensure_phase2(&mut st) {
            return match v {
                Verdict::Close => {
                    Verdict::respond(Problem::new(StatusCode::FORBIDDEN, BLOCKED_DETAIL).with_log_reason("waf drop"))
                }
                v => v,
            };
        }
        st.tx.response_status(resp.status.as_u16(), protocol(resp.version));
        // the transaction keeps no header nothing reads (the built-in pack has no response rules)
        if st.tx.reads_response_headers() {
            for (n, v) in &resp.headers {
                with_canonical(n.as_str().as_bytes(), |n| st.tx.response_header(n, v.as_bytes()));
            }
        }
        if let Some(iv) = self.times.time(WafPhase::ResponseHeaders, || st.tx.process_response_headers()) {
            return match self.verdict(&iv) {
                Verdict::Close => {
                    Verdict::respond(Problem::new(StatusCode::FORBIDDEN, BLOCKED_DETAIL).with_log_reason("waf drop"))
                }
                v => v,
            };
        }
        let s = self.engine.settings();
        let ct = resp.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        st.inspect_response = s.response_body_access && s.inspects_response_type(ct);
        st.status = resp.status.as_u16();
        st.expected_len = resp.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        if st.expected_len == Some(0) || matches!(resp.status.as_u16(), 204 | 304) {
            // No body will come: phase 4 and the log now, while the response can still be replaced.
            let iv = self.times.time(WafPhase::ResponseBody, || st.tx.process_response_body());
            if let Some(iv) = iv {
                self.finish(ctx, &mut st);
                return match self.verdict(&iv) {
                    Verdict::Close => Verdict::respond(
                        Problem::new(StatusCode::FORBIDDEN, BLOCKED_DETAIL).with_log_reason("waf drop"),
                    ),
                    v => v,
                };
            }
            self.finish(ctx, &mut st);
        }
        Verdict::Continue
    }

    fn response_body_filter(&self, ctx: &mut RequestCtx, chunk: &mut Bytes, end: bool) -> Verdict {
        let Some(w) = Self::state(ctx) else { return Verdict::Continue };
        let mut st = lock(w);
        if st.finished {
            return Verdict::Continue;
        }
        st.seen += chunk.len() as u64;
        // The last byte is known either from Content-Length or from the end of the stream; the log lines are
        // written before it goes out (the CRS runner reads the log as soon as it has the response).
        let last = end || st.expected_len == Some(st.seen);
        if st.inspect_response && !st.released {
            let limit = self.engine.settings().response_body_limit;
            let _ = st.tx.append_response_body(chunk);
            if st.held.len() + chunk.len() > limit {
                // Over the inspection limit: phase 4 runs on the inspected part, then the rest streams on.
                let mut out = std::mem::take(&mut st.held);
                out.extend_from_slice(chunk);
                *chunk = Bytes::from(out);
                st.released = true;
                if self.times.time(WafPhase::ResponseBody, || st.tx.process_response_body()).is_some() {
                    self.finish(ctx, &mut st);
                    return Verdict::Close;
                }
            } else if last {
                // The head is already sent: a block in phase 4 can only cut the response.
                let blocked = self.times.time(WafPhase::ResponseBody, || st.tx.process_response_body()).is_some();
                self.finish(ctx, &mut st);
                if blocked {
                    st.held.clear();
                    return Verdict::Close;
                }
                let mut out = std::mem::take(&mut st.held);
                out.extend_from_slice(chunk);
                *chunk = Bytes::from(out);
                return Verdict::Continue;
            } else {
                st.held.extend_from_slice(chunk);
                *chunk = Bytes::new();
                return Verdict::Continue;
            }
        }
        if last {
            self.finish(ctx, &mut st);
        }
        Verdict::Continue
    }

    fn logging(&self, ctx: &RequestCtx, status: u16) {
        let Some(w) = Self::state(ctx) else { return };
        let mut st = lock(w);
        st.status = status;
        self.finish(ctx, &mut st);
    }
}

impl WafProtection {
    /// Phase 5 and the request's security events and log lines, once.
    fn finish(&self, ctx: &RequestCtx, st: &mut TxState) {
        if st.finished {
            return;
        }
        st.finished = true;
        self.times.time(WafPhase::Logging, || st.tx.process_logging());
        let status = st.status;
        // A match that blocked becomes a WARN event; every other match an INFO event and, with the match log on, a
        // log line. Only a match that made the intervention blocked, so with no intervention, no match log and
        // INFO security events filtered out (`log.level = "warn"`, or `portcullis::security=warn`) there is
        // nothing to emit: return before `matches()` renders the texts (CRS's phase-5 score report on every
        // request that scored). The diagnostic filter is an `EnvFilter` on target and level, so `enabled!` answers
        // as the events below would.
        if self.log.is_none()
            && st.tx.intervention().is_none()
            && !tracing::enabled!(target: SECURITY_TARGET, tracing::Level::INFO)
        {
            return;
        }
        if st.tx.matches().is_empty() {
            return;
        }
        // the log lines' per-request facts (client, URI, host rendered as strings): only for the match log
        let meta = self.log.as_ref().map(|_| st.tx.log_meta());
        let matches = st.tx.matches();
        let mut lines = String::new();
        for m in matches {
            // Blocks are warnings; matches that did not block (scoring rules, detection-only) are info, so a
            // `warn` diagnostic log shows only what was refused.
            let severity = m.severity.and_then(|s| SEVERITIES.get(s as usize).copied()).unwrap_or("-");
            macro_rules! event {
                ($level:expr) => {
                    tracing::event!(
                        target: SECURITY_TARGET,
                        $level,
                        request_id = %ctx.request_id,
                        client_ip = %ctx.client_ip,
                        route = ctx.route.as_deref().unwrap_or("-"),
                        rule_id = m.id,
                        phase = m.phase,
                        severity,
                        blocked = m.blocked,
                        disruptive = m.disruptive,
                        msg = %m.msg,
                        data = %m.data,
                        status,
                        "waf rule matched"
                    )
                };
            }
            if m.blocked {
                event!(tracing::Level::WARN);
            } else {
                event!(tracing::Level::INFO);
            }
            if let Some(meta) = &meta {
                let _ = writeln!(lines, "{}", m.modsec_log_line(meta));
            }
        }
        if let Some(log) = &self.log {
            log.write_lines(&lines);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_pipeline::ConnInfo;

    fn config(dir: &std::path::Path, waf: &str, rules: &str) -> Config {
        std::fs::write(dir.join("rules.conf"), rules).unwrap();
        let text = format!(
            "[[listeners]]\nname = \"l\"\naddress = \"127.0.0.1:0\"\n{waf}\n[[upstreams]]\nname = \"u\"\ntargets = [\"127.0.0.1:9\"]\n\
             [[routes]]\nname = \"all\"\nupstream = \"u\"\n[[routes]]\nname = \"open\"\nupstream = \"u\"\nwaf = {{ mode = \"off\" }}\n"
        );
        Config::from_str_at(&text, None, dir.to_owned()).unwrap()
    }

    fn ctx(route: &str) -> RequestCtx {
        let conn = ConnInfo {
            peer: "192.0.2.7:51000".parse().unwrap(),
            local: "127.0.0.1:8080".parse().unwrap(),
            tls: false,
            sni: None,
            listener: "l".into(),
            client_cert: None,
        };
        let mut c = RequestCtx::new("req-1".into(), conn);
        c.route = Some(route.into());
        c
    }

    fn parts(uri: &str) -> request::Parts {
        http::Request::get(uri).header("host", "example.com").body(()).unwrap().into_parts().0
    }

    /// The borrowed request target is what formatting the URI gave, on every form a request line can take
    /// (origin, absolute, authority, asterisk) and on paths and queries with the bytes `Uri` treats apart; HTTP/2
    /// keeps its path and query. Mutant: borrowing the path and query whatever the form fails it
    /// (`http://a.example/b`).
    #[test]
    fn the_request_target_is_the_formatted_uri() {
        for target in [
            "/",
            "/api/items?id=123&q=hello",
            "/a?",
            "/a??b=c",
            "/p%20q/;x=1?y=%41&z",
            "//double/slash",
            "/a#frag",
            "http://a.example/b?c=d",
            "https://a.example",
            "a.example:443",
            "*",
        ] {
            let Ok(uri) = target.parse::<http::Uri>() else { continue };
            let mut p = http::Request::get(uri.clone()).body(()).unwrap().into_parts().0;
            assert_eq!(request_target(&p), uri.to_string(), "{target}");
            p.version = Version::HTTP_2;
            let h2 = uri.path_and_query().map_or("/", |q| q.as_str());
            assert_eq!(request_target(&p), h2, "{target} over HTTP/2");
        }
    }

    const RULES: &str =
        "SecRule ARGS:q \"@contains attack\" \"id:1001,phase:1,deny,status:406,log,msg:'attack in q'\"\n\
                         SecRule ARGS:d \"@contains drop\" \"id:1002,phase:1,drop,log\"\n";

    #[test]
    fn off_builds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WafProtection::build(&config(dir.path(), "[waf]\nmode = \"off\"", RULES)).unwrap().is_none());
        // On by default, with the built-in pack.
        assert!(WafProtection::build(&config(dir.path(), "", RULES)).unwrap().is_some());
    }

    #[test]
    fn a_deny_becomes_a_generic_problem_and_a_drop_closes() {
        let dir = tempfile::tempdir().unwrap();
        let waf =
            format!("[waf]\nmode = \"on\"\nrules = [\"rules.conf\"]\nlog = \"{}\"", dir.path().join("m.log").display());
        let p = WafProtection::build(&config(dir.path(), &waf, RULES)).unwrap().unwrap();
        let mut c = ctx("all");
        let Verdict::Respond(problem) = p.request_headers_filter(&mut c, &mut parts("/?q=an+attack")) else {
            panic!("not blocked")
        };
        assert_eq!(problem.status, 406);
        assert!(!problem.detail.as_deref().unwrap().contains("1001"));
        assert_eq!(problem.log_reason.as_deref(), Some("waf rule 1001"));
        p.logging(&c, 406);
        let log = std::fs::read_to_string(dir.path().join("m.log")).unwrap();
        assert!(log.contains(r#"[id "1001"]"#) && log.contains(r#"[unique_id "req-1"]"#), "{log}");

        let mut c = ctx("all");
        assert_eq!(p.request_headers_filter(&mut c, &mut parts("/?d=drop")), Verdict::Close);

        // A route with mode = "off" is not inspected at all.
        let mut c = ctx("open");
        assert_eq!(p.request_headers_filter(&mut c, &mut parts("/?q=an+attack")), Verdict::Continue);
        assert!(WafProtection::state(&c).is_none());
    }

    #[test]
    fn rules_see_header_names_as_clients_write_them() {
        // hyper hands over lowercase names; the match log names the header as ModSecurity and Coraza do.
        let dir = tempfile::tempdir().unwrap();
        let rules = "SecRule REQUEST_HEADERS:referer \"@contains #x\" \"id:1003,phase:1,pass,log,logdata:'%{MATCHED_VAR_NAME}'\"\n";
        let waf =
            format!("[waf]\nmode = \"on\"\nrules = [\"rules.conf\"]\nlog = \"{}\"", dir.path().join("m.log").display());
        let p = WafProtection::build(&config(dir.path(), &waf, rules)).unwrap().unwrap();
        let mut c = ctx("all");
        let mut req = http::Request::get("/")
            .header("host", "example.com")
            .header("referer", "https://example.com/#x")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        assert_eq!(p.request_headers_filter(&mut c, &mut req), Verdict::Continue);
        p.logging(&c, 200);
        let log = std::fs::read_to_string(dir.path().join("m.log")).unwrap();
        assert!(log.contains(r#"[data "REQUEST_HEADERS:Referer"]"#), "{log}");
        // What is forwarded is untouched.
        assert!(req.headers.contains_key("referer"));
    }

    #[test]
    fn detection_only_never_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let waf = "[waf]\nmode = \"detection_only\"\nrules = [\"rules.conf\"]";
        let p = WafProtection::build(&config(dir.path(), waf, RULES)).unwrap().unwrap();
        let mut c = ctx("all");
        assert_eq!(p.request_headers_filter(&mut c, &mut parts("/?q=an+attack")), Verdict::Continue);
        assert_eq!(p.ensure_phase2(&mut lock(WafProtection::state(&c).unwrap())), None);
    }

    #[test]
    fn a_broken_rule_names_the_key_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let waf = "[waf]\nmode = \"on\"\nrules = [\"rules.conf\"]";
        let e = WafProtection::build(&config(dir.path(), waf, "\n\nSecRule ARGS \"@rx (\" \"id:1,phase:1,deny\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("waf.rules: ") && e.contains("rules.conf:3"), "{e}");
    }
}
