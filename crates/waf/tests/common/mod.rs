//! Shared helpers for integration tests: locating the CRS snapshot and building transactions.
#![allow(dead_code)]

use portcullis_waf::{Engine, Intervention, Transaction, TxInfo};
use std::path::PathBuf;
use std::sync::Arc;

/// `/work/shared/crs`, reached relative to this crate.
pub fn crs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs")
}

/// CRS at PL1 in blocking mode: engine On + crs-setup + rules.
pub fn crs_engine(extra: &str) -> Engine {
    let dir = crs_dir();
    let head = format!(
        "SecRuleEngine On\nSecRequestBodyAccess On\nSecResponseBodyAccess On\nSecResponseBodyMimeType text/plain text/html\n{extra}\nInclude {}/crs-setup.conf.example\nInclude {}/rules/*.conf\n",
        dir.display(),
        dir.display()
    );
    Engine::from_str(&head, "/crs-test-main.conf").unwrap_or_else(|e| panic!("CRS failed to load: {e}"))
}

pub fn info() -> TxInfo {
    TxInfo {
        unique_id: "YHx8b3rMfKcAAAAAAQAAAA".into(),
        client_addr: "192.0.2.10".parse().unwrap(),
        client_port: 40000,
        server_addr: "192.0.2.1".parse().unwrap(),
        server_port: 80,
    }
}

/// Runs a GET through phases 1–2 and logging; returns the intervention and the transaction.
pub fn get(engine: &Arc<Engine>, uri: &str, headers: &[(&str, &str)]) -> (Option<Intervention>, Transaction) {
    let mut tx = engine.transaction(info());
    tx.request_line("GET", uri, "HTTP/1.1");
    tx.request_header(b"Host", b"localhost");
    tx.request_header(b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0");
    tx.request_header(b"Accept", b"text/html,application/xhtml+xml");
    for (n, v) in headers {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    let mut iv = tx.process_request_headers();
    if iv.is_none() {
        iv = tx.process_request_body();
    }
    tx.process_logging();
    (iv, tx)
}

/// Runs a GET with exactly these headers (none added) through phases 1–2 and logging.
pub fn get_exact(engine: &Arc<Engine>, uri: &str, headers: &[(&str, &str)]) -> Transaction {
    let mut tx = engine.transaction(info());
    tx.request_line("GET", uri, "HTTP/1.1");
    for (n, v) in headers {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    if tx.process_request_headers().is_none() {
        tx.process_request_body();
    }
    tx.process_logging();
    tx
}

/// Runs a form POST (`Content-Type: application/x-www-form-urlencoded`, header `X-A: x_a`, `body` when not
/// empty) through phases 1–2 and logging.
pub fn form_post(engine: &Arc<Engine>, uri: &str, x_a: &str, body: &str) -> Transaction {
    let mut tx = engine.transaction(info());
    tx.request_line("POST", uri, "HTTP/1.1");
    tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
    tx.request_header(b"X-A", x_a.as_bytes());
    tx.process_request_headers();
    if !body.is_empty() {
        tx.append_request_body(body.as_bytes()).unwrap();
    }
    tx.process_request_body();
    tx.process_logging();
    tx
}

/// A request case of the gate tests: (URI, headers, the ids expected to match).
pub type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u32]);

/// The engine of `rules` with the regex prefilter (and so the gate) on, and the same engine with it off:
/// the reference every gate shortcut is compared with.
pub fn prefilter_pair(rules: &str) -> (Arc<Engine>, Arc<Engine>) {
    let on = Arc::new(Engine::from_str(rules, "t.conf").unwrap());
    let off = Arc::new(Engine::from_str(rules, "t.conf").unwrap().with_rx_prefilter(false));
    (on, off)
}

/// Runs every case on both engines of a [`prefilter_pair`]: the same [`Outcome`] with the gate on and off, and the
/// expected ids matching (a rule's consecutive matches, e.g. `multiMatch`'s, counted once).
pub fn assert_cases(on: &Arc<Engine>, off: &Arc<Engine>, cases: &[Case]) {
    for (uri, headers, want) in cases {
        let mut a = get_exact(on, uri, headers);
        let mut b = get_exact(off, uri, headers);
        assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {headers:?}");
        let mut ids: Vec<u32> = a.matches().iter().map(|m| m.id).collect();
        ids.dedup();
        assert_eq!(&ids, want, "{uri} {headers:?}");
    }
}

/// Everything a transaction's matches leave behind: ids with their logged data, then TX.
pub type Outcome = (Vec<String>, Vec<(Vec<u8>, Vec<u8>)>);

/// The [`Outcome`] of `tx`, to compare two engines' runs of one request.
pub fn outcome(tx: &mut Transaction) -> Outcome {
    (tx.matches().iter().map(|m| format!("{} {}", m.id, m.data)).collect(), tx.tx_members())
}

/// An engine of `rules` alone (`SecRuleEngine On`), for tests that compare rules run together with each rule
/// in an engine of its own.
pub fn rules_engine(rules: &[&str]) -> Arc<Engine> {
    Arc::new(Engine::from_str(&format!("SecRuleEngine On\n{}\n", rules.join("\n")), "t.conf").unwrap())
}

/// The matches of rule `id` (with their data) and its TX counter `counter`: an [`Outcome`] of one rule.
pub fn rule_outcome(tx: &mut Transaction, id: u32, counter: &[u8]) -> Outcome {
    let matches = tx.matches().iter().filter(|m| m.id == id).map(|m| format!("{} {}", m.id, m.data)).collect();
    (matches, tx.tx_members().into_iter().filter(|(k, _)| k == counter).collect())
}

/// One engine per rule of `rules`, each holding that rule alone ([`rules_engine`]).
pub fn engines_alone(rules: &[&str]) -> Vec<Arc<Engine>> {
    rules.iter().map(|r| rules_engine(&[r])).collect()
}

/// Runs a GET of `uri` with `headers` through `all` (every rule together) and through each engine of `alone`
/// (rule `k + 1` alone, counting its matched values in `TX` key `counters[k]`); asserts that each rule's
/// [`rule_outcome`] is the same either way and returns each rule's counter.
pub fn agree_with_each_alone(
    all: &Arc<Engine>,
    alone: &[Arc<Engine>],
    uri: &str,
    headers: &[(&str, &str)],
    counters: &[&[u8]],
) -> Vec<usize> {
    let mut a = get_exact(all, uri, headers);
    let shown = uri.get(..120).unwrap_or(uri);
    let mut n = vec![0; alone.len()];
    for (k, e) in alone.iter().enumerate() {
        let mut b = get_exact(e, uri, headers);
        let id = k as u32 + 1;
        let (matches, tx) = rule_outcome(&mut b, id, counters[k]);
        assert_eq!(rule_outcome(&mut a, id, counters[k]), (matches, tx.clone()), "rule {id} on {shown} {headers:?}");
        n[k] = tx.first().map_or(0, |(_, v)| String::from_utf8_lossy(v).parse().unwrap());
    }
    n
}

/// Runs a GET for every triple of `alphabet` entries through `on` and `off` (the same rules with the prefilter
/// on and off): `request` makes the URI and the value of header `name` from the triple. Asserts the same
/// [`outcome`] for each, and returns how often each rule id matched with the prefilter on (index = id).
pub fn agree_on_triples<T: Copy>(
    (on, off): (&Arc<Engine>, &Arc<Engine>),
    alphabet: &[T],
    name: &str,
    request: impl Fn([T; 3]) -> (String, String),
) -> Vec<usize> {
    let mut matched = Vec::new();
    for i in alphabet {
        for j in alphabet {
            for k in alphabet {
                let (uri, header) = request([*i, *j, *k]);
                let mut a = get_exact(on, &uri, &[(name, &header)]);
                let mut b = get_exact(off, &uri, &[(name, &header)]);
                assert_eq!(outcome(&mut a), outcome(&mut b), "{uri} {header:?}");
                for m in a.matches() {
                    let id = m.id as usize;
                    if matched.len() <= id {
                        matched.resize(id + 1, 0);
                    }
                    matched[id] += 1;
                }
            }
        }
    }
    matched
}

/// One `SecRule`'s first operator, as written in a rule file.
pub struct RuleOperator {
    /// The file's name (not its path).
    pub file: String,
    pub line: usize,
    /// The `id:` of the directive's action list, when it has one (a chained link has none).
    pub id: Option<String>,
    /// The operator's name as written (`rx` when the operand has no `@`).
    pub name: String,
    /// The operand after the name (`!` removed).
    pub arg: String,
}

/// Every `SecRule`'s operator in the `.conf` files of `dir`, files in name order, directives in file order.
pub fn rule_operators(dir: &std::path::Path) -> Vec<RuleOperator> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "conf")) {
        let text = std::fs::read_to_string(f).unwrap();
        for d in portcullis_waf::seclang::lexer::lex(&text, f).unwrap() {
            if !d.name.eq_ignore_ascii_case("SecRule") || d.args.len() < 2 {
                continue;
            }
            let spec = d.args[1].trim_start_matches('!');
            let (name, arg) = match spec.strip_prefix('@') {
                Some(s) => s.split_once(' ').unwrap_or((s, "")),
                None => ("rx", spec),
            };
            let id =
                d.args.get(2).and_then(|a| a.split(',').find_map(|x| x.trim().strip_prefix("id:").map(str::to_string)));
            out.push(RuleOperator {
                file: f.file_name().unwrap().to_string_lossy().into_owned(),
                line: d.loc.line as usize,
                id,
                name: name.to_string(),
                arg: arg.to_string(),
            });
        }
    }
    out
}

/// One request: method, URI, extra headers, body.
pub type Req<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// How the outcome tests send a request: the client's own headers (before the request's), the Content-Type
/// of a non-empty body (`None`: the request's headers say it), and whether the work counters are part of the
/// outcome (not when the paths compared do different work by design, as folding does).
pub struct Client<'a> {
    pub headers: &'a [(&'a str, &'a str)],
    pub body_type: Option<&'a str>,
    pub stats: bool,
}

/// Runs `r` through all five phases (`prepare` may change the transaction first; the response is a 200
/// `text/plain` "ok") and renders the outcome: the interventions, the logged matches (id, message, data,
/// variable, severity, disruptive, blocked, status), the whole `TX`, the engine mode.
pub fn outcome_text(engine: &Arc<Engine>, r: &Req, prepare: &dyn Fn(&mut Transaction), client: &Client) -> String {
    let (method, uri, headers, body) = *r;
    let mut tx = engine.transaction(info());
    prepare(&mut tx);
    tx.request_line(method, uri, "HTTP/1.1");
    for (n, v) in client.headers {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    if let (false, Some(t)) = (body.is_empty(), client.body_type) {
        tx.request_header(b"Content-Type", t.as_bytes());
    }
    for (n, v) in headers {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    if !body.is_empty() {
        tx.request_header(b"Content-Length", body.len().to_string().as_bytes());
    }
    let mut ivs = vec![tx.process_request_headers()];
    let _ = tx.append_request_body(body.as_bytes());
    ivs.push(tx.process_request_body());
    tx.response_status(200, "HTTP/1.1");
    tx.response_header(b"Content-Type", b"text/plain");
    ivs.push(tx.process_response_headers());
    let _ = tx.append_response_body(b"ok");
    ivs.push(tx.process_response_body());
    tx.process_logging();
    let matches: Vec<String> = tx
        .matches()
        .iter()
        .map(|m| {
            format!(
                "{} {:?} {:?} {:?} {:?} {} {} {:?}",
                m.id, m.msg, m.data, m.matched_var_name, m.severity, m.disruptive, m.blocked, m.status
            )
        })
        .collect();
    let txv: Vec<String> = tx
        .tx_members()
        .iter()
        .map(|(k, v)| format!("{}={}", String::from_utf8_lossy(k), String::from_utf8_lossy(v)))
        .collect();
    let mut out = format!("{ivs:?}\n{matches:#?}\n{txv:?}\n{:?}", tx.engine_mode());
    if client.stats {
        out.push_str(&format!("\n{:?}", tx.stats()));
    }
    out
}

/// Every request gives the same outcome on the engines `on` and `off` (`what` names the difference between
/// them in the failure).
pub fn check_same_outcomes(
    on: &Arc<Engine>,
    off: &Arc<Engine>,
    reqs: &[Req],
    prepare: &dyn Fn(&mut Transaction),
    client: &Client,
    what: &str,
) {
    for r in reqs {
        let (a, b) = (outcome_text(on, r, prepare, client), outcome_text(off, r, prepare, client));
        assert_eq!(a, b, "request {r:?}: {what} changed the outcome");
    }
}

/// The engine of `text` twice: as loaded (a shortcut on) and with `off` applied (the shortcut off), for
/// [`check_same_outcomes`].
pub fn on_and_off(text: &str, file: &str, off: impl FnOnce(Engine) -> Engine) -> (Arc<Engine>, Arc<Engine>) {
    let on = Arc::new(Engine::from_str(text, file).unwrap_or_else(|e| panic!("{e}")));
    let off = Arc::new(off(Engine::from_str(text, file).unwrap()));
    (on, off)
}

/// A `prepare` for [`check_same_outcomes`] that changes nothing.
pub fn no_prep(_: &mut Transaction) {}

/// The base64 encoding of `s` (standard alphabet, `=` padding).
pub fn base64(s: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= c.len() { A[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}
