//! The WAF engine's detector families (`crates/waf/src/transaction/detectors.rs`: one class decision per value
//! for every detector rule reading the same list) and the other prefilter shortcuts must not change what the
//! built-in pack finds. Every request of both evaluation corpora (`tests/corpus`, `tests/corpus-holdout`:
//! attacks in every placement and encoding, and benign API traffic) runs through the pack at every sensitivity
//! twice — shortcuts on, and off (`Engine::with_rx_prefilter(false)`, the reference path) — and the verdict and
//! every match (rule id, phase, message, log data with the captured `TX:0` and `MATCHED_VAR_NAME`, severity,
//! whether it blocked) must be the same. The families must also have engaged (rules skipped whole).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use portcullis_config::Config;
use portcullis_waf::{Engine, EngineMode, Transaction, TxInfo};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(sensitivity: &str) -> Config {
    let text = format!(
        "[[listeners]]\nname = \"l\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\n\
         targets = [\"127.0.0.1:9\"]\n[[routes]]\nname = \"all\"\nupstream = \"u\"\n[waf]\nsensitivity = \"{sensitivity}\"\n"
    );
    Config::from_str_at(&text, None, std::env::temp_dir()).expect("test config is valid")
}

fn engine(sensitivity: &str) -> Engine {
    portcullis_waf_protection::build_engine(&config(sensitivity)).expect("the built-in pack compiles")
}

struct Req {
    id: String,
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn corpus(dir: &str) -> Vec<Req> {
    let mut out = Vec::new();
    for file in ["attacks.jsonl", "benign.jsonl"] {
        let path = root().join("tests").join(dir).join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("corpus lines are JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let headers = v["headers"]
                .as_array()
                .map(|hs| {
                    hs.iter().filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string()))).collect()
                })
                .unwrap_or_default();
            out.push(Req {
                id: s("id"),
                method: s("method"),
                target: s("target"),
                headers,
                body: s("body").into_bytes(),
            });
        }
    }
    out
}

/// Phases 1, 2 and 5, as the gateway runs them; the outcome as text.
fn run(engine: &Arc<Engine>, r: &Req) -> (String, Transaction) {
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    let info = TxInfo {
        unique_id: r.id.clone(),
        client_addr: loopback,
        client_port: 40000,
        server_addr: loopback,
        server_port: 47700,
    };
    let mut tx = engine.transaction(info);
    tx.set_engine_mode(EngineMode::On);
    tx.request_line(&r.method, &r.target, "HTTP/1.1");
    for (n, v) in &r.headers {
        tx.request_header(n.as_bytes(), v.as_bytes());
    }
    if !r.body.is_empty() && !r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        tx.request_header(b"Content-Length", r.body.len().to_string().as_bytes());
    }
    let mut iv = tx.process_request_headers();
    if iv.is_none() {
        if !r.body.is_empty() {
            let _ = tx.append_request_body(&r.body);
        }
        iv = tx.process_request_body();
    }
    tx.process_logging();
    let mut out = format!("{iv:?}\n");
    for m in tx.matches() {
        out.push_str(&format!(
            "{} {} {:?} {:?} {:?} {} {}\n",
            m.id, m.phase, m.msg, m.data, m.severity, m.disruptive, m.blocked
        ));
    }
    (out, tx)
}

#[test]
fn the_pack_finds_the_same_with_and_without_detector_families() {
    let reqs: Vec<Req> = ["corpus", "corpus-holdout"].iter().flat_map(|d| corpus(d)).collect();
    assert!(reqs.len() > 5000, "{} requests: the corpora were not read", reqs.len());
    for sensitivity in ["low", "medium", "high"] {
        let on = Arc::new(engine(sensitivity));
        let off = Arc::new(engine(sensitivity).with_rx_prefilter(false));
        let (mut skips_on, mut skips_off, mut blocked) = (0u64, 0u64, 0usize);
        for r in &reqs {
            let (a, ta) = run(&on, r);
            let (b, tb) = run(&off, r);
            assert_eq!(a, b, "{sensitivity}: {} differs with detector families on (left) and off (right)", r.id);
            skips_on += u64::from(ta.stats().detector_list_skips);
            skips_off += u64::from(tb.stats().detector_list_skips);
            blocked += usize::from(ta.intervention().is_some());
        }
        eprintln!("{sensitivity}: {} requests, {blocked} blocked, {skips_on} detector rules skipped whole", reqs.len());
        assert!(skips_on > reqs.len() as u64, "{sensitivity}: the families never engaged");
        assert_eq!(skips_off, 0, "{sensitivity}: the reference path took a shortcut");
        assert!(blocked > 1000, "{sensitivity}: {blocked} blocked: the attacks did not reach the pack");
    }
}

/// The pack's text with the rules `ids` removed (with the rules chained to them).
fn pack_without(sensitivity: &str, ids: &[u32]) -> Engine {
    let config = config(sensitivity);
    let full = format!(
        "{}{}{}",
        portcullis_waf_protection::BASE,
        portcullis_waf_protection::builtin::text(&config.file.waf),
        portcullis_waf_protection::BASE_BODY_ERROR
    );
    // one directive per logical line (`\` continues it); a directive with `chain` takes the next one along
    let mut directives: Vec<String> = Vec::new();
    let mut cur = String::new();
    for line in full.lines() {
        cur.push_str(line);
        cur.push('\n');
        if !line.ends_with('\\') {
            directives.push(std::mem::take(&mut cur));
        }
    }
    let mut out = String::new();
    let mut dropping_chain = false;
    for d in directives {
        let is_chained_link = dropping_chain && d.trim_start().starts_with("SecRule") && !d.contains("id:");
        if is_chained_link {
            dropping_chain = d.contains("chain");
            continue;
        }
        let drop = ids.iter().any(|id| d.contains(&format!("id:{id},")));
        dropping_chain = drop && d.contains("chain");
        if !drop {
            out.push_str(&d);
        }
    }
    for id in ids {
        assert!(!out.contains(&format!("id:{id},")), "rule {id} was not removed");
    }
    Engine::from_str(&out, "<pack without its gates>").expect("the pack without its gates compiles")
}

/// The pack's gates — `@detectAny` ahead of the detector rules (191001–191004: skip every detector rule when no
/// detector fires on any value) and `@uniqueArgNames` ahead of the parameter-pollution counters (192104,
/// 192105) — may only skip rules that would find nothing: with them and without them, every request of both
/// corpora gets the same verdict and the same matches at every sensitivity, and the gates must have engaged
/// (fewer rules evaluated).
#[test]
fn the_pack_finds_the_same_with_and_without_its_gates() {
    let reqs: Vec<Req> = ["corpus", "corpus-holdout"].iter().flat_map(|d| corpus(d)).collect();
    assert!(reqs.len() > 5000, "{} requests: the corpora were not read", reqs.len());
    let gates = [191001, 191002, 191003, 191004, 192104, 192105];
    for sensitivity in ["low", "medium", "high"] {
        let gated = Arc::new(engine(sensitivity));
        let plain = Arc::new(pack_without(sensitivity, &gates));
        let (mut rules_gated, mut rules_plain, mut blocked) = (0u64, 0u64, 0usize);
        for r in &reqs {
            let (a, ta) = run(&gated, r);
            let (b, tb) = run(&plain, r);
            assert_eq!(a, b, "{sensitivity}: {} differs with the gates (left) and without (right)", r.id);
            rules_gated += u64::from(ta.stats().rules);
            rules_plain += u64::from(tb.stats().rules);
            blocked += usize::from(ta.intervention().is_some());
        }
        eprintln!(
            "{sensitivity}: {} requests, {blocked} blocked; rules evaluated {rules_gated} with the gates, \
             {rules_plain} without",
            reqs.len()
        );
        assert!(rules_gated < rules_plain, "{sensitivity}: the gates never engaged");
        assert!(blocked > 1000, "{sensitivity}: {blocked} blocked: the attacks did not reach the pack");
    }
}

/// Rule 191100 as it was written before `@shellshock` stood for its chain and regex.
const SHELLSHOCK_AS_RX: &str = r#"SecRule REQUEST_HEADERS|ARGS|REQUEST_COOKIES "@rx ^\s*\(\s*\)\s*\{" \
    "id:191100,phase:1,pass,log,t:none,t:deepDecode,msg:'Shellshock function definition',logdata:'in %{MATCHED_VAR_NAME}',tag:'portcullis/injection',tag:'attack-cmdi',severity:'CRITICAL',setvar:tx.pc_score=+5,setvar:tx.pc_cmdi=+1"
"#;

/// `@shellshock` (rule 191100, `t:none`) finds what `t:deepDecode` then `@rx ^\s*\(\s*\)\s*\{` found: every
/// request of both corpora, and function definitions plain and encoded in a header, a parameter and a cookie,
/// get the same verdict and matches from the pack as shipped and from the pack with 191100 in its `@rx` form.
#[test]
fn the_shellshock_operator_finds_what_its_rx_rule_found() {
    let mut reqs: Vec<Req> = ["corpus", "corpus-holdout"].iter().flat_map(|d| corpus(d)).collect();
    let payloads = ["() { :; }; echo x", "%28%29%20%7B%20%3A%3B%20%7D%3B%20id", "&#40;) {", " \t( ) {", "(x) {"];
    for (k, p) in payloads.iter().enumerate() {
        let get = |target: String, headers: Vec<(String, String)>| Req {
            id: format!("shellshock-{k}"),
            method: "GET".into(),
            target,
            headers,
            body: Vec::new(),
        };
        let host = ("Host".to_string(), "example.com".to_string());
        reqs.push(get("/".into(), vec![host.clone(), ("X-Probe".into(), p.to_string())]));
        reqs.push(get("/".into(), vec![host.clone(), ("User-Agent".into(), p.to_string())]));
        reqs.push(get("/".into(), vec![host.clone(), ("Cookie".into(), format!("s={p}"))]));
        reqs.push(get(format!("/?q={}", p.replace(' ', "%20").replace(';', "%3B")), vec![host]));
    }
    let config = config("high");
    let shipped = format!(
        "{}{}{}",
        portcullis_waf_protection::BASE,
        portcullis_waf_protection::builtin::text(&config.file.waf),
        portcullis_waf_protection::BASE_BODY_ERROR
    );
    let start =
        shipped.find("SecRule REQUEST_HEADERS|ARGS|REQUEST_COOKIES \"@shellshock\"").expect("191100 is shipped");
    let end = start + shipped[start..].find("setvar:tx.pc_cmdi=+1\"\n").expect("191100 ends") + 22;
    let as_rx = format!("{}{SHELLSHOCK_AS_RX}{}", &shipped[..start], &shipped[end..]);
    let ours = Arc::new(Engine::from_str(&shipped, "<pack as shipped>").expect("the pack compiles"));
    let rx = Arc::new(Engine::from_str(&as_rx, "<pack with 191100 as @rx>").expect("the @rx form compiles"));
    let mut found = 0;
    for r in &reqs {
        let (a, _) = run(&ours, r);
        let (b, _) = run(&rx, r);
        assert_eq!(a, b, "{} differs with @shellshock (left) and the @rx rule (right)", r.id);
        found += usize::from(a.contains("\n191100 "));
    }
    eprintln!("{} requests, 191100 matched {found}", reqs.len());
    assert!(found >= 10, "191100 matched only {found} requests: the comparison says little");
}

/// The literal-prefix tests written `@beginsWith` (199001 of the gateway's base, 192102 and 192104 of the
/// parameter-pollution section) find what their anchored `@rx` forms found: both corpora and requests with every
/// kind of Content-Type those rules and their neighbours read (JSON and `+json`, forms, multipart, XML, the
/// prefix followed by more, upper case, a leading space or line break, empty), with form and JSON bodies and
/// repeated names, through the pack as shipped and the pack with the `@rx` forms: the same verdict and matches at
/// every sensitivity. Mutant: `@beginsWith application/` for 199001 (form bodies then parsed as JSON, a body
/// error) fails it.
#[test]
fn the_prefix_operators_find_what_their_rx_forms_found() {
    let mut reqs: Vec<Req> = ["corpus", "corpus-holdout"].iter().flat_map(|d| corpus(d)).collect();
    let types = [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/jsonp",
        "application/vnd.api+json",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencodedx",
        "multipart/form-data; boundary=b",
        "text/xml",
        " application/json",
        "\napplication/json",
        "",
    ];
    let bodies: [&[u8]; 3] = [br#"{"a":"1' OR '1'='1","a":2}"#, b"a=1&a=2&b=%27%20or%201=1--", b"--b\r\n"];
    for (i, t) in types.iter().enumerate() {
        for (j, body) in bodies.iter().enumerate() {
            reqs.push(Req {
                id: format!("type{i}-body{j}"),
                method: "POST".into(),
                target: "/api/items?x=1&x=2".into(),
                headers: vec![("Host".into(), "shop.example".into()), ("Content-Type".into(), t.to_string())],
                body: body.to_vec(),
            });
        }
    }
    for sensitivity in ["low", "medium", "high"] {
        let config = config(sensitivity);
        let shipped = format!(
            "{}{}{}",
            portcullis_waf_protection::BASE,
            portcullis_waf_protection::builtin::text(&config.file.waf),
            portcullis_waf_protection::BASE_BODY_ERROR
        );
        let as_rx = shipped.replace("\"@beginsWith application/json\"", "\"^application/json\"").replace(
            "\"!@beginsWith application/x-www-form-urlencoded\"",
            "\"!@rx ^application/x-www-form-urlencoded\"",
        );
        assert_eq!(as_rx.matches("^application/").count(), shipped.matches("^application/").count() + 3);
        let ours = Arc::new(Engine::from_str(&shipped, "<pack as shipped>").expect("the pack compiles"));
        let rx = Arc::new(Engine::from_str(&as_rx, "<pack with @rx prefixes>").expect("the @rx forms compile"));
        for r in &reqs {
            let (a, _) = run(&ours, r);
            let (b, _) = run(&rx, r);
            assert_eq!(a, b, "{sensitivity}: {} differs with @beginsWith (left) and @rx (right)", r.id);
        }
    }
}
