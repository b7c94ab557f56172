//! A [`Transaction`]: one HTTP exchange fed through phases 1–5. Request/response data is copied once into
//! an append-only arena and collections are spans into it; transformation results are cached per
//! (value span, transformation chain) and shared between rules. The buffers behind all of this (arena, caches,
//! `TX`, argument and header lists) are emptied and reused by the next transaction through the engine's
//! pool (`pool`), so a benign request allocates little.
//!
//! | gateway call                       | phase | what runs                                                  |
//! |------------------------------------|-------|------------------------------------------------------------|
//! | `request_line`, `request_header`   | —     | data copied into the arena; ARGS_GET, cookies parsed       |
//! | `process_request_headers`          | 1     | body processor chosen from Content-Type, phase 1 rules     |
//! | `append_request_body`              | —     | buffered up to `SecRequestBodyLimit` (Reject → error)      |
//! | `process_request_body`             | 2     | body parsed (URLENCODED, JSON), phase 2 rules (CRS 949110) |
//! | `response_status`, `response_header` | —   | response data into the arena                               |
//! | `process_response_headers`         | 3     | phase 3 rules                                              |
//! | `append_response_body`             | —     | buffered when access is on and the MIME type is inspected  |
//! | `process_response_body`            | 4     | phase 4 rules (CRS 959100)                                 |
//! | `process_logging`                  | 5     | always, also after a block; persists `initcol` records     |
//!
//! After an intervention the later request/response phases do nothing; logging still runs. In
//! `DetectionOnly` disruptive rules are logged (with `disruptive: true`) but never returned.

mod collect;
mod detectors;
mod eval;
mod exec;
mod gate;
mod log;
mod memo;
mod pool;

mod tx_link;
mod tx_vars;

pub(crate) use collect::{intern_target_lists, Item};
pub(crate) use detectors::set_post_cut_bytes;
pub(crate) use gate::{empty_closes, gate_of, number_gate_slots, set_byte_outs, set_gate_preimages};
pub(crate) use log::DeferredText;
pub use log::{LogMeta, RuleMatch, SharedLog};
pub(crate) use memo::next_engine_id as next_memo_id;
pub(crate) use pool::TxPool;
pub(crate) use tx_link::set_tx_key_hashes;
pub(crate) use tx_vars::{tx_hash, TxImage};

use crate::actions::EngineMode;
use crate::body::{self, MultipartFlags, ParsedBody};
use crate::engine::Engine;
use crate::error::BodyError;
use crate::operators::Captures;
use crate::persist::Record;
use crate::settings::LimitAction;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

/// Connection facts the gateway knows before the request line.
#[derive(Debug, Clone)]
pub struct TxInfo {
    pub unique_id: String,
    pub client_addr: IpAddr,
    pub client_port: u16,
    pub server_addr: IpAddr,
    pub server_port: u16,
}

/// What the gateway must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterventionAction {
    Deny,
    Drop,
    Redirect { url: String },
}

/// A disruptive verdict from a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intervention {
    pub status: u16,
    pub action: InterventionAction,
    pub rule_id: u32,
}

/// Work counters for one transaction (diagnostics and benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalStats {
    /// Rules (chain starters) evaluated.
    pub rules: u32,
    /// (rule link, value) pairs given to an operator or skipped by the prefilter.
    pub values: u32,
    /// Operator evaluations skipped because the literal prefilter ruled a match out.
    pub prefilter_skips: u32,
    /// Detector links skipped whole because the per-value class cache ruled out every value.
    pub detector_list_skips: u32,
    /// Transformation results computed (cache misses).
    pub transforms_computed: u32,
    /// Transformation results served from the per-transaction cache.
    pub transform_cache_hits: u32,
    /// Prefilter entries and gates' base64 tests served by the memo of earlier transactions (`memo`), and
    /// looked up there in vain.
    pub memo_hits: u32,
    pub memo_misses: u32,
}

/// The bytes of `s` in `arena`; `None` for a span outside it. (A free function, so a caller can hold them
/// while it changes the transaction's other fields.)
pub(crate) fn arena_bytes(arena: &[u8], s: Span) -> Option<&[u8]> {
    let a = s.start as usize;
    arena.get(a..a + s.len as usize)
}

/// A span into the transaction arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Span {
    pub start: u32,
    pub len: u32,
}

/// A collection member: key and value spans.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kv {
    pub name: Span,
    pub value: Span,
}

#[derive(Debug, Default)]
pub(crate) struct Request {
    pub method: Span,
    pub uri: Span,
    pub uri_raw: Span,
    pub filename: Span,
    pub basename: Span,
    pub query: Span,
    pub protocol: Span,
    pub line: Span,
    pub args_get: Vec<Kv>,
    pub args_post: Vec<Kv>,
    pub headers: Vec<Kv>,
    pub cookies: Vec<Kv>,
    pub body: Vec<u8>,
    pub body_span: Span,
    pub body_seen: usize,
    pub body_processor: Option<String>,
    pub body_error: Option<String>,
    /// `REMOTE_ADDR` (and `REMOTE_HOST`): the client address as text, written once when the transaction
    /// starts (`write_ip`) rather than formatted on every read.
    pub remote_addr: Span,
    pub urlencoded_error: bool,
    /// File parts: field name → client file name (`FILES_NAMES` / `FILES`).
    pub files: Vec<Kv>,
    pub files_sizes: Vec<u64>,
    /// `FILES_TMP_CONTENT`: each file part's content, in the order of `files` (ModSecurity reads it back
    /// from the temporary file; the gateway has the whole body buffered, so no file is written).
    pub files_content: Vec<Span>,
    pub multipart_part_headers: Vec<Kv>,
    pub multipart_names: Vec<Span>,
    pub multipart_filenames: Vec<Span>,
    pub multipart: MultipartFlags,
    /// `XML:/*`: one value per non-blank text node (Coraza's view).
    pub xml_text: Vec<Span>,
    /// `XML://@*`: every attribute value.
    pub xml_attrs: Vec<Span>,
}

#[derive(Debug, Default)]
pub(crate) struct Response {
    pub status: u16,
    pub protocol: Span,
    pub headers: Vec<Kv>,
    pub body: Vec<u8>,
    pub body_span: Span,
}

/// How far `allow` reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allowed {
    No,
    Request,
    All,
}

/// Cached transformation result for a (span, chain) key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cached {
    Unchanged,
    At(Span),
}

/// Per-transaction rule exclusions from `ctl:`, resolved to rule ids when the `ctl` runs (tags and
/// messages through the rule set's indexes), so checking a rule is a lookup, not a scan of its tags.
#[derive(Debug, Default)]
pub(crate) struct Exclusions {
    /// `ruleRemoveById` ranges.
    pub ids: Vec<(u32, u32)>,
    /// Rules removed by tag or message.
    pub removed: std::collections::HashSet<u32, BuildFx>,
    /// Targets removed from specific rules.
    pub targets: collect::TargetRemovals,
}

/// A persistent collection loaded by `initcol`: (collection, storage key, record).
pub(crate) type Persistent = (crate::variables::Var, String, Record);

/// One HTTP exchange. Not shared between threads; cheap to create.
pub struct Transaction {
    pub(crate) engine: Arc<Engine>,
    pub(crate) info: TxInfo,
    pub(crate) started: Instant,
    pub(crate) arena: Vec<u8>,
    pub(crate) req: Request,
    pub(crate) resp: Response,
    /// TX collection: lowercase name → (name span, value span) in the arena, so reading TX never copies.
    pub(crate) tx: tx_vars::TxVars,
    pub(crate) env: BTreeMap<String, Vec<u8>>,
    /// Persistent collections loaded by `initcol`: (collection, storage key) → record.
    pub(crate) persistent: Vec<Persistent>,
    pub(crate) mode: EngineMode,
    pub(crate) request_body_access: bool,
    pub(crate) response_body_access: bool,
    pub(crate) force_body_variable: bool,
    pub(crate) excl: Exclusions,
    /// `TX` keys the gateway set for this transaction (`Transaction::pin_tx`); rules cannot change them.
    pub(crate) pinned: Vec<String>,
    pub(crate) allowed: Allowed,
    pub(crate) intervention: Option<Intervention>,
    pub(crate) matches: Vec<RuleMatch>,
    /// Matches whose `msg`/`data` are not rendered yet (`log::DeferredText`): the index in `matches` and the
    /// rule's text. Rendered before the next `TX` write and when `matches` is read (`Self::settle_text`).
    pub(crate) pending_text: Vec<(usize, Arc<DeferredText>)>,
    pub(crate) phases_done: [bool; 5],
    pub(crate) cache: HashMap<(Span, u32), Cached, BuildFx>,
    pub(crate) cache_buf: Vec<u8>,
    /// Prefilter bitsets per (value, chain): offset into `pf_bits`.
    pub(crate) pf_cache: HashMap<(Span, u32), u32, BuildFx>,
    pub(crate) pf_bits: Vec<u64>,
    /// Per arena value: the latest of its transformed forms scanned (an index in `pf_form_list`), so a chain
    /// that turns it into a form another chain already produced shares that form's bitset (`gate`).
    pub(crate) pf_forms: HashMap<Span, u32, BuildFx>,
    /// (form in `cache_buf`, its bitset's offset in `pf_bits`, the value's previous form or `u32::MAX`).
    pub(crate) pf_form_list: Vec<(Span, u32, u32)>,
    pub(crate) pf_scratch: Vec<u64>,
    /// Per phase: (variable, chain) → offset in `pf_bits` of the union of its members' bitsets (`gate`).
    pub(crate) gate_cache: Vec<u32>,
    /// Per phase: each gate source's members with their untransformed bitsets (`gate::SourceLists`).
    pub(crate) src_lists: gate::SourceLists,
    /// The values of the rule link being evaluated (reused by every rule; pooled).
    pub(crate) phase_items: Vec<collect::Item>,
    pub(crate) gate_scratch: Vec<u64>,
    /// The decoded text a gate's `b64` test scans (`gate::b64_rules_out`; pooled).
    pub(crate) b64_buf: Vec<u8>,
    /// Request or response data changed since the gate's unions were computed: `run_phase` clears
    /// `gate_cache` only then (a GET's phase 2 sees the data phase 1 saw, so it keeps phase 1's unions).
    pub(crate) gate_stale: bool,
    /// The last memo look-up that missed (`gate::memo_entry`): the value, the chain and the key's
    /// hash, so the scan that follows stores its entry without hashing the value again.
    pub(crate) memo_miss: Option<(Span, u32, memo::KeyHash)>,
    /// Per phase walk: one bit per rule of the phase that a summary batch ruled out (`gate::test_batch`); the
    /// walk jumps over them. Sized and zeroed by `run_rules`.
    pub(crate) gate_closed: Vec<u64>,
    /// Per arena value: the attack classes whose detector may fire on it (`portcullis_detect::prefilter::
    /// classes`), computed once and shared by every detector rule that reads the value.
    pub(crate) class_cache: HashMap<Span, portcullis_detect::prefilter::Classes, BuildFx>,
    /// Per phase: interned target list (`Rule::target_list`) → its values as collected (without `ctl`
    /// target removals; a rule with some collects its own), shared by the rules that list the same targets.
    pub(crate) list_cache: collect::ListCache,
    /// Per phase: the detector rules' class masks per (target list, chain) (`detectors`).
    pub(crate) families: detectors::Families,
    pub(crate) stats: EvalStats,
    // per-rule match state
    pub(crate) matched_var: Vec<u8>,
    pub(crate) matched_var_name: String,
    /// MATCHED_VARS of the current rule: the first `matched_count` entries (slots are reused).
    pub(crate) matched_vars: Vec<(String, Vec<u8>)>,
    pub(crate) matched_count: usize,
    /// `setvar` expansions (a dynamic key, then the value), reused by every `setvar` (pooled).
    pub(crate) expand_buf: Vec<u8>,
    /// A dynamic `setvar` key, lowercased (pooled).
    pub(crate) setvar_key: String,
    pub(crate) captures: Captures,
    pub(crate) highest_severity: u8,
    pub(crate) current_rule: Option<(u32, usize, usize)>,
    /// Phase 1 passed the end of the initialisation prefix with every init rule run (`crate::fold`): the
    /// rules' load-time verdicts hold for this transaction.
    pub(crate) fold_ok: bool,
    /// The evaluation buffers are back in the pool (`pool`, `Transaction::park`): the next phase takes a set.
    pub(crate) parked: bool,
}

/// A small fast hasher for the transformation cache (keys are a few integers, not attacker-chosen
/// strings, so HashDoS resistance is not needed).
#[derive(Default, Clone, Copy)]
pub(crate) struct BuildFx;
#[derive(Default)]
pub(crate) struct Fx(u64);
impl std::hash::Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(5) ^ *b as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}
impl std::hash::BuildHasher for BuildFx {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

/// Appends `addr` as text, the bytes `IpAddr`'s `Display` writes: an IPv4 address by hand (a few instructions
/// an octet; `Display` goes through the formatter's padding and a dynamic write per octet, which cost more
/// than the rule that reads it, CRS 905110), an IPv6 one through `Display`.
fn write_ip(out: &mut Vec<u8>, addr: IpAddr) {
    match addr {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                if o >= 100 {
                    out.push(b'0' + o / 100);
                }
                if o >= 10 {
                    out.push(b'0' + o / 10 % 10);
                }
                out.push(b'0' + o % 10);
            }
        }
        IpAddr::V6(_) => {
            use std::io::Write as _;
            // writing into a vector cannot fail
            let _ = write!(out, "{addr}");
        }
    }
}

impl Transaction {
    pub(crate) fn new(engine: Arc<Engine>, info: TxInfo) -> Transaction {
        let s = &engine.settings;
        let mode = s.rule_engine;
        let (rba, rsba) = (s.request_body_access, s.response_body_access);
        // buffers of an earlier transaction, emptied (`pool`): no allocation or rehash on the benign path
        let b = engine.pool.take();
        let sc = engine.pool.take_scratch();
        let mut arena = b.arena;
        let start = arena.len();
        write_ip(&mut arena, info.client_addr);
        let remote_addr = Span { start: start as u32, len: (arena.len() - start) as u32 };
        let req = Request {
            remote_addr,
            args_get: b.args_get,
            args_post: b.args_post,
            headers: b.headers,
            cookies: b.cookies,
            ..Request::default()
        };
        let resp = Response { headers: b.resp_headers, ..Response::default() };
        Transaction {
            engine,
            info,
            started: Instant::now(),
            arena,
            req,
            resp,
            tx: b.tx,
            env: BTreeMap::new(),
            persistent: Vec::new(),
            mode,
            request_body_access: rba,
            response_body_access: rsba,
            force_body_variable: false,
            excl: Exclusions::default(),
            pinned: Vec::new(),
            allowed: Allowed::No,
            intervention: None,
            matches: Vec::new(),
            pending_text: Vec::new(),
            phases_done: [false; 5],
            cache: sc.cache,
            cache_buf: sc.cache_buf,
            pf_cache: sc.pf_cache,
            pf_bits: sc.pf_bits,
            pf_forms: sc.pf_forms,
            pf_form_list: sc.pf_form_list,
            pf_scratch: sc.pf_scratch,
            gate_cache: sc.gate_cache,
            src_lists: sc.src_lists,
            phase_items: sc.phase_items,
            gate_scratch: sc.gate_scratch,
            b64_buf: sc.b64_buf,
            gate_stale: true,
            memo_miss: None,
            gate_closed: sc.gate_closed,
            class_cache: sc.class_cache,
            list_cache: sc.list_cache,
            families: sc.families,
            stats: EvalStats::default(),
            matched_var: b.matched_var,
            matched_var_name: b.matched_var_name,
            matched_vars: b.matched_vars,
            matched_count: 0,
            expand_buf: sc.expand_buf,
            setvar_key: sc.setvar_key,
            captures: b.captures,
            highest_severity: 255,
            current_rule: None,
            fold_ok: false,
            parked: false,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) -> Span {
        push_to(&mut self.arena, bytes)
    }

    pub(crate) fn get(&self, s: Span) -> &[u8] {
        arena_bytes(&self.arena, s).unwrap_or(b"")
    }

    /// Sets the request line. `uri` is the request target as received (path + query, or absolute form).
    pub fn request_line(&mut self, method: &str, uri: &str, protocol: &str) {
        self.gate_stale = true;
        self.req.method = self.push(method.as_bytes());
        self.req.uri_raw = self.push(uri.as_bytes());
        // absolute-form: drop scheme and authority for REQUEST_URI
        let rel = match uri.find("://") {
            Some(p) if !uri[..p].contains('/') => match uri[p + 3..].find('/') {
                Some(q) => &uri[p + 3 + q..],
                None => "/",
            },
            _ => uri,
        };
        self.req.uri = self.push(rel.as_bytes());
        let (path, query) = match rel.find('?') {
            Some(q) => (&rel[..q], &rel[q + 1..]),
            None => (rel, ""),
        };
        // REQUEST_FILENAME/BASENAME are percent-decoded (not `+`), as Coraza and ModSecurity expose them
        // (a path without `%` is its own decoding: no copy)
        let decoded: std::borrow::Cow<'_, [u8]> = if path.contains('%') {
            std::borrow::Cow::Owned(percent_decode(path.as_bytes()))
        } else {
            std::borrow::Cow::Borrowed(path.as_bytes())
        };
        self.req.filename = self.push(&decoded);
        let base_start = decoded.iter().rposition(|b| *b == b'/').map(|p| p + 1).unwrap_or(0);
        self.req.basename = self.push(&decoded[base_start..]);
        self.req.query = self.push(query.as_bytes());
        self.req.protocol = self.push(protocol.as_bytes());
        // REQUEST_LINE is the three parts pushed back to back (the arena is contiguous), not a formatted copy
        let start = self.arena.len();
        for part in [method.as_bytes(), b" ", uri.as_bytes(), b" ", protocol.as_bytes()] {
            self.push(part);
        }
        self.req.line = Span { start: start as u32, len: (self.arena.len() - start) as u32 };
        // straight into the arena and the (reused) ARGS_GET list, as `parse_urlencoded`'s pairs were pushed;
        // the argument-limit error is not a body error (as Coraza)
        let mut args = std::mem::take(&mut self.req.args_get);
        args.clear();
        let mut out = ArenaArgs { arena: &mut self.arena, args: &mut args, start: 0, error: None };
        self.req.urlencoded_error |= body::parse_urlencoded_into(query.as_bytes(), &self.engine.body_limits, &mut out);
        self.req.args_get = args;
    }

    /// Adds one request header (call once per header line, in order).
    pub fn request_header(&mut self, name: &[u8], value: &[u8]) {
        self.gate_stale = true;
        let n = self.push(name);
        let v = self.push(value);
        self.req.headers.push(Kv { name: n, value: v });
        if name.eq_ignore_ascii_case(b"cookie") {
            for part in value.split(|b| *b == b';') {
                let part = trim(part);
                if part.is_empty() {
                    continue;
                }
                let (cn, cv) = match part.iter().position(|b| *b == b'=') {
                    Some(i) => (&part[..i], &part[i + 1..]),
                    None => (part, &b""[..]),
                };
                let name = self.push(trim(cn));
                let value = self.push(cv);
                self.req.cookies.push(Kv { name, value });
            }
        }
    }

    pub(crate) fn header_value(&self, headers: &[Kv], name: &[u8]) -> Option<&[u8]> {
        headers.iter().find(|kv| self.get(kv.name).eq_ignore_ascii_case(name)).map(|kv| self.get(kv.value))
    }

    fn effective_mode(&self) -> EngineMode {
        self.mode
    }

    /// Phase 1. Returns an intervention when a rule blocks (never in DetectionOnly).
    pub fn process_request_headers(&mut self) -> Option<Intervention> {
        if self.phases_done[0] {
            return None;
        }
        // the body processor is known from the headers, so phase 1 rules can read and override it
        if let Some(ct) = self.header_value(&self.req.headers, b"content-type") {
            let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
            let p = if ct.starts_with("application/x-www-form-urlencoded") {
                Some("URLENCODED")
            } else if ct.starts_with("multipart/form-data") {
                Some("MULTIPART")
            } else {
                None
            };
            self.req.body_processor = p.map(str::to_string);
        }
        self.run_phase(1)
    }

    /// Appends a chunk of request body. Errors when the body exceeds `SecRequestBodyLimit` and the limit
    /// action is `Reject` (the gateway should answer 413); with `ProcessPartial` the excess is ignored.
    /// `SecRequestBodyNoFilesLimit` applies as in ModSecurity to bodies that carry no files, i.e. every body
    /// processor but MULTIPART (whose file parts only count against `SecRequestBodyLimit`): the smaller of
    /// the two limits is enforced, with the same limit action.
    pub fn append_request_body(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        let s = &self.engine.settings;
        let no_files = self.req.body_processor.as_deref() != Some("MULTIPART")
            && s.request_body_no_files_limit < s.request_body_limit;
        let limit = if no_files { s.request_body_no_files_limit } else { s.request_body_limit };
        self.req.body_seen = self.req.body_seen.saturating_add(chunk.len());
        if !self.request_body_access {
            return Ok(());
        }
        let room = limit.saturating_sub(self.req.body.len());
        if chunk.len() > room {
            self.req.body.extend_from_slice(&chunk[..room]);
            if s.request_body_limit_action == LimitAction::Reject && self.mode == EngineMode::On {
                return Err(if no_files {
                    BodyError::RequestBodyNoFilesTooLarge { limit }
                } else {
                    BodyError::RequestBodyTooLarge { limit }
                });
            }
            return Ok(());
        }
        self.req.body.extend_from_slice(chunk);
        Ok(())
    }

    /// Phase 2: runs the body processor, then the phase 2 rules.
    pub fn process_request_body(&mut self) -> Option<Intervention> {
        if !self.phases_done[0] {
            if let Some(iv) = self.process_request_headers() {
                return Some(iv);
            }
        }
        if self.phases_done[1] {
            return None;
        }
        // As Coraza does: a forced body variable with no processor parses the body as URL-encoded
        // (CRS 901340 forces it whenever the Content-Type selects no processor).
        if self.force_body_variable && self.req.body_processor.is_none() {
            self.req.body_processor = Some("URLENCODED".into());
        }
        if self.request_body_access && !self.req.body.is_empty() {
            self.gate_stale = true;
            let body = std::mem::take(&mut self.req.body);
            // REQUEST_BODY as in Coraza/ModSecurity: for URLENCODED or when forced (CRS 901340 forces it
            // when no processor applies); XML/JSON/multipart bodies are inspected through their parsers.
            if self.force_body_variable || self.req.body_processor.as_deref() == Some("URLENCODED") {
                self.req.body_span = self.push(&body);
            }
            let limits = &self.engine.body_limits;
            let parsed = match self.req.body_processor.as_deref() {
                Some("URLENCODED") => {
                    self.parse_urlencoded_body(&body);
                    None
                }
                Some("JSON") => {
                    self.parse_json_body(&body);
                    None
                }
                Some("XML") => Some(body::parse_xml(&body, limits)),
                Some("MULTIPART") => {
                    let ct = self.header_value(&self.req.headers, b"content-type").unwrap_or(b"").to_vec();
                    Some(body::parse_multipart(&body, &ct, limits))
                }
                _ => None,
            };
            if let Some(parsed) = parsed {
                self.apply_parsed_body(&parsed);
            }
            self.req.body = body;
        }
        self.run_phase(2)
    }

    /// The JSON processor straight into `ARGS_POST`: names and values go to the arena as they are read, as
    /// `apply_parsed_body` would push them from a `ParsedBody` (name, then value, in document order; the
    /// error into `REQBODY_ERROR`; a JSON body sets nothing else).
    fn parse_json_body(&mut self, body: &[u8]) {
        let engine = Arc::clone(&self.engine);
        let start = self.req.args_post.len();
        let mut out = ArenaArgs { arena: &mut self.arena, args: &mut self.req.args_post, start, error: None };
        body::parse_json_into(body, &engine.body_limits, &mut out);
        if let Some(e) = out.error {
            self.req.body_error = Some(e);
        }
    }

    /// The URL-encoded processor straight into `ARGS_POST`, as `apply_parsed_body` would map
    /// `parse_urlencoded`'s result (its pairs pushed name then value; `URLENCODED_ERROR`; the limit error into
    /// `REQBODY_ERROR`; the multipart flags, which it leaves unset).
    fn parse_urlencoded_body(&mut self, body: &[u8]) {
        let engine = Arc::clone(&self.engine);
        let start = self.req.args_post.len();
        let mut out = ArenaArgs { arena: &mut self.arena, args: &mut self.req.args_post, start, error: None };
        let urlencoded_error = body::parse_urlencoded_into(body, &engine.body_limits, &mut out);
        let error = out.error;
        self.req.urlencoded_error |= urlencoded_error;
        self.req.multipart = MultipartFlags::default();
        if let Some(e) = error {
            self.req.body_error = Some(e);
        }
    }

    /// Maps a body processor's result onto the request's collections (see `body`'s table).
    fn apply_parsed_body(&mut self, p: &ParsedBody<'_>) {
        self.req.urlencoded_error |= p.urlencoded_error;
        for (n, v) in &p.args {
            let kv = Kv { name: self.push(n), value: self.push(v) };
            self.req.args_post.push(kv);
        }
        for f in &p.files {
            let kv = Kv { name: self.push(&f.name), value: self.push(&f.filename) };
            self.req.files.push(kv);
            self.req.files_sizes.push(f.size as u64);
            if self.engine.rules.reads_file_content {
                let content = self.push(&f.content);
                self.req.files_content.push(content);
            }
        }
        for (n, v) in &p.part_headers {
            let kv = Kv { name: self.push(n), value: self.push(v) };
            self.req.multipart_part_headers.push(kv);
        }
        for n in &p.multipart_names {
            let s = self.push(n);
            self.req.multipart_names.push(s);
        }
        for n in &p.multipart_filenames {
            let s = self.push(n);
            self.req.multipart_filenames.push(s);
        }
        self.req.multipart = p.multipart;
        if let Some(xml) = &p.xml {
            for t in xml.text_values() {
                let s = self.push(t);
                self.req.xml_text.push(s);
            }
            for a in &xml.attributes {
                let s = self.push(a);
                self.req.xml_attrs.push(s);
            }
        }
        if let Some(e) = &p.error {
            self.req.body_error = Some(e.clone());
        }
    }

    /// Sets the response status line.
    pub fn response_status(&mut self, status: u16, protocol: &str) {
        self.gate_stale = true;
        self.resp.status = status;
        self.resp.protocol = self.push(protocol.as_bytes());
    }

    /// Does anything read the response headers this transaction is given? Rules of phases 3–5 (the only ones
    /// that run after the response arrives), and the response body buffer, which inspects by the response's
    /// `Content-Type` (`response_body_access`, which a `ctl` in phase 1 or 2 may have turned on). A rule set
    /// with neither (the built-in pack) never reads them: [`Transaction::response_header`] keeps nothing, and a
    /// gateway may skip preparing them.
    pub fn reads_response_headers(&self) -> bool {
        self.response_body_access || self.engine.rules.phases[2..].iter().any(|p| !p.is_empty())
    }

    pub fn response_header(&mut self, name: &[u8], value: &[u8]) {
        // nothing could read it (no rule of phases 3-5 exists to be added later in this transaction)
        if !self.reads_response_headers() {
            return;
        }
        self.gate_stale = true;
        let n = self.push(name);
        let v = self.push(value);
        self.resp.headers.push(Kv { name: n, value: v });
    }

    /// Phase 3.
    pub fn process_response_headers(&mut self) -> Option<Intervention> {
        if self.phases_done[2] {
            return None;
        }
        self.run_phase(3)
    }

    /// Appends response body (only buffered when response body access is on and the type is inspected;
    /// beyond `SecResponseBodyLimit` the rest is ignored or, with `Reject`, an error is returned).
    pub fn append_response_body(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        if !self.response_body_access || !self.response_type_inspected() {
            return Ok(());
        }
        let s = &self.engine.settings;
        let limit = s.response_body_limit;
        let room = limit.saturating_sub(self.resp.body.len());
        if chunk.len() > room {
            self.resp.body.extend_from_slice(&chunk[..room]);
            if s.response_body_limit_action == LimitAction::Reject && self.mode == EngineMode::On {
                return Err(BodyError::ResponseBodyTooLarge { limit });
            }
            return Ok(());
        }
        self.resp.body.extend_from_slice(chunk);
        Ok(())
    }

    fn response_type_inspected(&self) -> bool {
        let ct = self
            .header_value(&self.resp.headers, b"content-type")
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        self.engine.settings.inspects_response_type(&ct)
    }

    /// Phase 4.
    pub fn process_response_body(&mut self) -> Option<Intervention> {
        if !self.phases_done[2] {
            if let Some(iv) = self.process_response_headers() {
                return Some(iv);
            }
        }
        if self.phases_done[3] {
            return None;
        }
        if !self.resp.body.is_empty() {
            self.gate_stale = true;
            let body = std::mem::take(&mut self.resp.body);
            self.resp.body_span = self.push(&body);
            self.resp.body = body;
        }
        self.run_phase(4)
    }

    /// Phase 5 (always run, also after a block); persists `initcol` collections.
    pub fn process_logging(&mut self) {
        if self.phases_done[4] {
            return;
        }
        let _ = self.run_phase(5);
        let timeout = self.engine.settings.collection_timeout_secs;
        let _ = timeout;
        for (var, key, rec) in std::mem::take(&mut self.persistent) {
            self.engine.store.save(format!("{}:{key}", crate::variables::name_of(var)), rec);
        }
    }

    /// Every logged rule match so far, in order, with its `msg` and `data` rendered (a match whose text
    /// reads only `TX` is rendered here, from the `TX` it was recorded with: see `log::DeferredText`).
    pub fn matches(&mut self) -> &[RuleMatch] {
        self.settle_text();
        &self.matches
    }

    /// The intervention decided so far, if any.
    pub fn intervention(&self) -> Option<&Intervention> {
        self.intervention.as_ref()
    }

    /// Facts for log lines.
    pub fn log_meta(&self) -> LogMeta {
        LogMeta {
            client_addr: self.info.client_addr.to_string(),
            uri: String::from_utf8_lossy(self.get(self.req.uri)).into_owned(),
            unique_id: self.info.unique_id.clone(),
            hostname: self
                .header_value(&self.req.headers, b"host")
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .unwrap_or_default(),
        }
    }

    /// Current value of `TX:name` (lowercase name), for tests and diagnostics.
    pub fn tx_var(&self, name: &str) -> Option<&[u8]> {
        self.tx.get(&self.arena, name.to_ascii_lowercase().as_bytes()).map(|(_, v)| self.get(v))
    }

    /// Every `TX` member as (name, value), in name order (tests and diagnostics: the fold equivalence tests
    /// compare whole `TX` collections).
    pub fn tx_members(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.tx.sorted(&self.arena).into_iter().map(|(k, v)| (self.get(k).to_vec(), self.get(v).to_vec())).collect()
    }

    /// Sets `TX:key` (key already lowercase).
    pub(crate) fn tx_set(&mut self, key: &str, value: &[u8]) {
        let h = self.tx.hash(key.as_bytes());
        self.tx_set_hashed(h, key, value);
    }

    /// [`Self::tx_set`] with `h` = `self.tx.hash(key)`: the value, then (for a new key) the name, pushed to
    /// the arena, and the key hashed once for the look-up and the insertion.
    pub(crate) fn tx_set_hashed(&mut self, h: u64, key: &str, value: &[u8]) {
        self.settle_text();
        let vs = self.push(value);
        if self.tx.set_existing_hashed(&self.arena, h, key.as_bytes(), vs) {
            return;
        }
        let ks = self.push(key.as_bytes());
        self.tx.insert_new_hashed(&self.arena, h, ks, vs);
    }

    /// Work done so far.
    pub fn stats(&self) -> EvalStats {
        self.stats
    }

    /// Sets the engine mode for this transaction, as a `ctl:ruleEngine` at its start would (the gateway's
    /// configured mode, per route). Rules may still change it with `ctl:ruleEngine`.
    pub fn set_engine_mode(&mut self, mode: EngineMode) {
        self.mode = mode;
    }

    /// Removes rules (inclusive id ranges) for this transaction, as `ctl:ruleRemoveById` would (the
    /// gateway's per-route exclusions).
    pub fn remove_rules_by_id(&mut self, ranges: &[(u32, u32)]) {
        self.excl.ids.extend_from_slice(ranges);
    }

    /// Sets `TX:key` for this transaction before the rules run and keeps it: a rule's `setvar` on the key
    /// (an assignment, `=+`/`=-` or a deletion) leaves it as the gateway set it. Per-route settings use it
    /// (`routes.waf.paranoia_level` pins CRS's `blocking_paranoia_level` and `detection_paranoia_level`), so
    /// the route wins over the rule files as `waf.mode` wins over `SecRuleEngine`, whatever `crs-setup.conf`
    /// assigns. Call it before `process_request_headers`.
    pub fn pin_tx(&mut self, key: &str, value: &[u8]) {
        let key = key.to_ascii_lowercase();
        self.tx_set(&key, value);
        if !self.pinned.contains(&key) {
            self.pinned.push(key);
        }
    }

    /// Engine mode in force for this transaction (after `ctl:ruleEngine`).
    pub fn engine_mode(&self) -> EngineMode {
        self.effective_mode()
    }
}

/// Appends `bytes` to the arena and returns their span.
fn push_to(arena: &mut Vec<u8>, bytes: &[u8]) -> Span {
    let start = arena.len();
    // Transactions larger than 4 GiB of header data are not representable; truncate instead of panicking.
    let room = (u32::MAX as usize).saturating_sub(start);
    let bytes = &bytes[..bytes.len().min(room)];
    arena.extend_from_slice(bytes);
    Span { start: start as u32, len: bytes.len() as u32 }
}

/// A body processor's arguments pushed straight into the arena and an argument list (`body::JsonOut`).
struct ArenaArgs<'t> {
    arena: &'t mut Vec<u8>,
    args: &'t mut Vec<Kv>,
    /// Length of `args` before the parse: the argument limit counts this parse's arguments.
    start: usize,
    error: Option<String>,
}

impl ArenaArgs<'_> {
    /// `push_arg` into the arena: refused past `limits.max_args` of this parse's arguments (the error, with
    /// `prefix`, recorded once).
    fn push(&mut self, limits: &body::BodyLimits, prefix: &str, name: &[u8], value: &[u8]) -> bool {
        if self.args.len() - self.start >= limits.max_args {
            if self.error.is_none() {
                self.error = Some(body::arg_limit_error(prefix, limits));
            }
            return false;
        }
        let name = push_to(self.arena, name);
        let value = push_to(self.arena, value);
        self.args.push(Kv { name, value });
        true
    }
}

impl<'a> body::JsonOut<'a> for ArenaArgs<'_> {
    fn arg(&mut self, limits: &body::BodyLimits, name: &[u8], value: std::borrow::Cow<'a, [u8]>) -> bool {
        self.push(limits, body::JSON_ERROR_PREFIX, name, &value)
    }
    fn error_mut(&mut self) -> &mut Option<String> {
        &mut self.error
    }
}

impl<'a> body::ArgsOut<'a> for ArenaArgs<'_> {
    fn arg(
        &mut self,
        limits: &body::BodyLimits,
        prefix: &str,
        name: std::borrow::Cow<'a, [u8]>,
        value: std::borrow::Cow<'a, [u8]>,
    ) -> bool {
        self.push(limits, prefix, &name, &value)
    }
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let h = |b: u8| (b as char).to_digit(16);
    let mut k = 0;
    while k < input.len() {
        if input[k] == b'%' {
            if let (Some(a), Some(b)) = (input.get(k + 1).and_then(|b| h(*b)), input.get(k + 2).and_then(|b| h(*b))) {
                out.push((a * 16 + b) as u8);
                k += 3;
                continue;
            }
        }
        out.push(input[k]);
        k += 1;
    }
    out
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let e = b.iter().rposition(|c| !c.is_ascii_whitespace()).map(|p| p + 1).unwrap_or(s);
    &b[s..e.max(s)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{BodyLimits, Compat};

    /// `write_ip` appends what `IpAddr`'s `Display` writes, for every octet width and both families.
    #[test]
    fn write_ip_is_display() {
        let named = ["0.0.0.0", "255.255.255.255", "10.0.0.1", "192.168.100.7", "1.22.133.4"];
        let v6 = ["::", "::1", "::ffff:1.2.3.4", "2001:db8::8a2e:370:7334"];
        let mut addrs: Vec<IpAddr> = named.iter().chain(&v6).map(|a| a.parse().unwrap()).collect();
        addrs.extend((0..=255u8).map(|o| IpAddr::from([o, 255 - o, o / 3, 7])));
        for a in addrs {
            let mut out = b"x".to_vec();
            write_ip(&mut out, a);
            assert_eq!(&out[1..], a.to_string().as_bytes(), "{a}");
        }
    }

    /// The arguments a parser pushed through an `ArenaArgs` that already held `already` arguments (and some
    /// arena bytes): the pairs it added, its recorded error, what `parse` returned, and the bytes it appended.
    #[allow(clippy::type_complexity)]
    fn into_arena<R>(
        already: usize,
        parse: impl FnOnce(&mut ArenaArgs<'_>) -> R,
    ) -> (Vec<(Vec<u8>, Vec<u8>)>, Option<String>, R, Vec<u8>) {
        let mut arena = b"earlier data".to_vec();
        let mut args = vec![Kv { name: Span { start: 0, len: 7 }, value: Span::default() }; already];
        let mut out = ArenaArgs { arena: &mut arena, args: &mut args, start: already, error: None };
        let r = parse(&mut out);
        let error = out.error;
        let get = |s: Span| arena[s.start as usize..(s.start + s.len) as usize].to_vec();
        let got = args[already..].iter().map(|kv| (get(kv.name), get(kv.value))).collect();
        (got, error, r, arena[b"earlier data".len()..].to_vec())
    }

    fn response_tx(rules: &str) -> Transaction {
        let rules = format!("SecRuleEngine On\n{rules}");
        let engine = Arc::new(Engine::from_str(&rules, "t.conf").expect("test rules load"));
        let loopback = IpAddr::from([127, 0, 0, 1]);
        let mut tx = engine.transaction(TxInfo {
            unique_id: "r".into(),
            client_addr: loopback,
            client_port: 1,
            server_addr: loopback,
            server_port: 2,
        });
        tx.request_line("GET", "/", "HTTP/1.1");
        let _ = tx.process_request_headers();
        let _ = tx.process_request_body();
        tx.response_status(200, "HTTP/1.1");
        tx.response_header(b"Content-Type", b"text/html");
        tx.response_header(b"X-Leak", b"secret");
        tx
    }

    /// Response headers are kept exactly when something can read them: a rule of phase 3, 4 or 5, or the
    /// response body buffer (turned on by the settings or by a `ctl` before the response). Mutants: keeping
    /// nothing fails the phase 3 and 5 rules and the `ctl` case; ignoring `response_body_access` fails the `ctl`
    /// case.
    #[test]
    fn response_headers_are_kept_when_something_reads_them() {
        let tx = response_tx("SecRule REQUEST_METHOD \"@streq GET\" \"id:1,phase:1,pass,nolog\"\n");
        assert!(!tx.reads_response_headers());
        assert!(tx.resp.headers.is_empty(), "no rule of phases 3-5 and no body access: nothing kept");
        for phase in [3, 5] {
            let rule = format!("SecRule RESPONSE_HEADERS:X-Leak \"@streq secret\" \"id:2,phase:{phase},pass,log\"\n");
            let mut tx = response_tx(&rule);
            assert!(tx.reads_response_headers());
            let _ = tx.process_response_headers();
            let _ = tx.process_response_body();
            tx.process_logging();
            assert_eq!(tx.matches().iter().map(|m| m.id).collect::<Vec<_>>(), vec![2], "phase {phase}");
        }
        let mut tx =
            response_tx("SecResponseBodyAccess Off\nSecAction \"id:3,phase:1,pass,nolog,ctl:responseBodyAccess=On\"\n");
        assert!(tx.reads_response_headers());
        assert_eq!(tx.resp.headers.len(), 2, "the body buffer reads the Content-Type");
        tx.append_response_body(b"<p>").expect("under the limit");
        assert_eq!(tx.resp.body, b"<p>", "text/html is inspected");
    }

    /// `request_line` skips `percent_decode` on a path without `%`: it must be the identity there.
    #[test]
    fn a_path_without_percent_is_its_own_decoding() {
        for path in ["", "/", "/api/items", "/a+b/c;d=e/%", "/x%2", "/caf\u{e9}/../~u/*"] {
            let decoded = percent_decode(path.as_bytes());
            if !path.contains('%') {
                assert_eq!(decoded, path.as_bytes(), "{path:?}");
            }
        }
        assert_eq!(percent_decode(b"/a%2fb%zz%4"), b"/a/b%zz%4");
    }

    /// A query string or form body read straight into the arena (`ArenaArgs`) gives what `parse_urlencoded`
    /// gives: the same names and values in the same order, the same `URLENCODED_ERROR` and limit error, under
    /// both compatibility modes, at the argument limit, and whatever the arguments already in the list.
    #[test]
    fn urlencoded_into_the_arena_is_parse_urlencoded() {
        let bodies: [&[u8]; 14] = [
            b"id=123&q=hello",
            b"a=1+2&b=%41%zz&a",
            b"a=1&&&a=2&",
            b"&",
            b"&&",
            b"",
            b"=v",
            b"a=b=c",
            b"na%6De=x+y%20z&%=%4&z=%",
            b"a=%00%ff%C3%A9",
            b"a=1&b=2&c=3&d=4",
            b"a&b&c&",
            b"x=new %w20$&y=%&z=%4",
            b"ids[]=1&ids[]=2&ids[]=3",
        ];
        let limits: Vec<BodyLimits> = [Compat::Coraza, Compat::ModSecurity]
            .into_iter()
            .flat_map(|compat| {
                [
                    BodyLimits { compat, ..BodyLimits::default() },
                    BodyLimits { compat, max_args: 2, ..BodyLimits::default() },
                    BodyLimits { compat, max_args: 0, ..BodyLimits::default() },
                ]
            })
            .collect();
        for l in &limits {
            for body in bodies {
                let want = body::parse_urlencoded(body, l);
                let want_args: Vec<(Vec<u8>, Vec<u8>)> =
                    want.args.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
                for already in [0, 3] {
                    let (got, error, bad, appended) =
                        into_arena(already, |out| body::parse_urlencoded_into(body, l, out));
                    let shown = String::from_utf8_lossy(body);
                    assert_eq!(got, want_args, "{shown} {:?} {}", l.compat, l.max_args);
                    assert_eq!(error, want.error, "{shown}");
                    assert_eq!(bad, want.urlencoded_error, "{shown}");
                    // the arena holds the pairs back to back, name then value, as `apply_parsed_body` pushed them
                    let flat: Vec<u8> = want_args.iter().flat_map(|(n, v)| n.iter().chain(v).copied()).collect();
                    assert_eq!(appended, flat, "{shown}");
                }
            }
        }
    }

    /// JSON read straight into the arena (`ArenaArgs`) gives what `parse_json` gives: the same names and
    /// values in the same order and the same error, also where the argument limit or a syntax error stops
    /// the parse, and whatever the arguments already in the list.
    #[test]
    fn json_into_the_arena_is_parse_json() {
        let bodies: [&[u8]; 12] = [
            br#"{"username":"alice","password":"x","remember_me":true,"client":{"app":"web","n":1.5e3}}"#,
            br#"{"a":[1,2,{"b":null}],"":"empty","c":"esc\"aped\u00e9\ud83d\ude00"}"#,
            br#"[[1,2],[],{},"x"]"#,
            b"42",
            b"",
            b"   ",
            br#"{"a":1,"a":2,"a":3,"a":4}"#,
            br#"{"a":1,"b":"#,
            br#"{"a":[1,2,3"#,
            br#"{"a":tru}"#,
            br#"{"a":"\x01"}"#,
            br#"[[[[[[["deep"]]]]]]]"#,
        ];
        let limits: Vec<BodyLimits> = [Compat::Coraza, Compat::ModSecurity]
            .into_iter()
            .flat_map(|compat| {
                [
                    BodyLimits { compat, ..BodyLimits::default() },
                    BodyLimits { compat, max_args: 2, ..BodyLimits::default() },
                    BodyLimits { compat, max_json_depth: 3, ..BodyLimits::default() },
                ]
            })
            .collect();
        for l in &limits {
            for body in bodies {
                let want = body::parse_json(body, l);
                let want_args: Vec<(Vec<u8>, Vec<u8>)> =
                    want.args.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
                for already in [0, 3] {
                    let (got, error, (), _) = into_arena(already, |out| body::parse_json_into(body, l, out));
                    let shown = String::from_utf8_lossy(body);
                    assert_eq!(got, want_args, "{shown} {:?} {}", l.compat, l.max_args);
                    assert_eq!(error, want.error, "{shown}");
                }
            }
        }
    }
}
