//! From the `[waf]` config section to a compiled engine: a small built-in base, the configured rule files in
//! order, then the gateway's limit overrides (later directives win).

use std::fmt::Write as _;
use std::path::PathBuf;

use portcullis_config::{Config, WafMode};
use portcullis_waf::{Engine, LoadError};

/// Directives loaded before the configured rules, which may override them: what ModSecurity's recommended
/// config provides and CRS expects. Request bodies are inspected (CRS needs them in phase 2), with the XML and
/// JSON body processors chosen from the Content-Type, and an unparsable body refused (400) in blocking mode;
/// response bodies only when a rule file says `SecResponseBodyAccess On`. Rule ids 199000–199099 are the
/// gateway's. The built-in pack, when used, loads between the settings and the body-error rule (so its own
/// verdicts on a body, e.g. an XXE, come before the generic 400). A test of a literal prefix is written
/// `@beginsWith` rather than as an anchored `@rx` (`^application/json`: the same answer, `^` being the start of
/// the value, without a regex search on every request with a Content-Type).
pub const BASE: &str = r#"SecRequestBodyAccess On
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecResponseBodyMimeType text/plain text/html text/xml
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:199000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "@beginsWith application/json" "id:199001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:199002,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
"#;

/// The body-error rule of the base config (see [`BASE`]).
pub const BASE_BODY_ERROR: &str = r#"SecRule REQBODY_ERROR "!@eq 0" "id:199003,phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
"#;

/// The WAF could not be built; the message names the config key and, for rules, the file and line.
#[derive(Debug, thiserror::Error)]
pub enum WafError {
    #[error("waf.rules: {0}")]
    Rules(#[from] LoadError),
    #[error("waf.log: cannot open {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
}

/// Whether any route runs the WAF (`waf.mode` or a route's `waf.mode` other than `off`).
pub fn waf_used(config: &Config) -> bool {
    let f = &config.file;
    f.waf.mode != WafMode::Off
        || f.routes.iter().any(|r| r.waf.as_ref().and_then(|w| w.mode).is_some_and(|m| m != WafMode::Off))
}

/// Compiles the rule set if the config uses the WAF, without opening anything (for `check-config`).
/// Returns the number of rules loaded.
pub fn check(config: &Config) -> Result<Option<usize>, WafError> {
    if !waf_used(config) {
        return Ok(None);
    }
    Ok(Some(build_engine(config)?.rule_count()))
}

/// The rule files the config names (globs expanded), for the reload watcher; empty when the WAF is not used.
/// Files they `Include` and `@pmFromFile` data files are not listed: changing those needs a SIGHUP.
pub fn rule_files(config: &Config) -> Vec<PathBuf> {
    if !waf_used(config) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (_, pattern) in config.file.waf.rule_files() {
        let full = config.resolve(pattern);
        let text = full.to_string_lossy();
        if text.contains(['*', '?', '[']) {
            if let Ok(paths) = glob::glob(&text) {
                out.extend(paths.filter_map(Result::ok));
            }
        } else {
            out.push(full);
        }
    }
    out
}

/// Compiles the configured rule set (base, `waf.rules` in order, limit overrides).
pub fn build_engine(config: &Config) -> Result<Engine, WafError> {
    let waf = &config.file.waf;
    let mut text = String::from(BASE);
    if waf.uses_builtin() {
        text.push_str(&crate::builtin::text(waf));
    }
    text.push_str(BASE_BODY_ERROR);
    for (_, pattern) in waf.rule_files() {
        let full = config.resolve(pattern);
        let _ = writeln!(text, "Include \"{}\"", full.display());
    }
    if let Some(l) = waf.request_body_limit {
        let _ = writeln!(text, "SecRequestBodyLimit {}", l.0);
    }
    if let Some(l) = waf.response_body_limit {
        let _ = writeln!(text, "SecResponseBodyLimit {}", l.0);
    }
    let engine = Engine::from_str(&text, "<portcullis waf config>")?.with_scan_memo(waf.value_memo);
    if !waf.uses_builtin() {
        return Ok(engine);
    }
    let rewritten = engine.rewritten_rules();
    let broken: Vec<&PackGate> =
        PACK_GATES.iter().filter(|g| rewritten.iter().any(|id| g.covers(*id)) || g.partly_removed(&engine)).collect();
    if broken.is_empty() {
        return Ok(engine);
    }
    for g in &broken {
        let _ = writeln!(text, "SecRuleRemoveById {}-{}", g.gate.0, g.gate.1);
        tracing::info!(
            gate = %format_args!("{}-{}", g.gate.0, g.gate.1),
            "a rule file removes part of this built-in gate, or changes the targets or transformations of a rule it stands for: the gate is off and those rules run on every request"
        );
    }
    Ok(Engine::from_str(&text, "<portcullis waf config>")?.with_scan_memo(waf.value_memo))
}

/// A gate of the built-in pack (`rules/README.md`, "Gates"): rules `gate.0..=gate.1` prove in one pass that
/// none of the rules in `covers` can match, and skip them. The proof is made from those rules' targets and
/// transformations as the pack writes them, so when a user's rule file adds targets to one of them or changes
/// its transformations (`Engine::rewritten_rules`), the gate is removed and the rules run as written.
struct PackGate {
    gate: (u32, u32),
    covers: &'static [(u32, u32)],
}

impl PackGate {
    fn covers(&self, id: u32) -> bool {
        self.covers.iter().any(|(a, b)| (*a..=*b).contains(&id))
    }

    /// Some but not all of the gate's rules are loaded: its last rule (the skip) would run without the tests
    /// that must come before it.
    fn partly_removed(&self, engine: &Engine) -> bool {
        let present = (self.gate.0..=self.gate.1).filter(|id| engine.has_rule(*id)).count();
        present != 0 && present != (self.gate.1 - self.gate.0 + 1) as usize
    }
}

/// Per-route rule removals (`routes[].waf.remove_rules`), as inclusive id ranges, with every pack gate that
/// loses a rule removed whole: removing a gate's test but not its skip would skip the rules it stands for on
/// every request; removing the whole gate only makes them run.
pub fn route_removals(ids: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = ids.iter().map(|id| (*id, *id)).collect();
    for g in &PACK_GATES {
        if ids.iter().any(|id| (g.gate.0..=g.gate.1).contains(id)) {
            out.push(g.gate);
        }
    }
    out
}

/// The pack's gates: the detector gate (`20-injection.conf`, every rule after `PC-DETECTORS` to the end of
/// `25-embedded.conf`) and the parameter-pollution gate (`15-parameters.conf`). The test
/// `pack_gates_cover_exactly_their_sections` keeps these ranges in step with the rule files.
const PACK_GATES: [PackGate; 2] = [
    PackGate { gate: (191001, 191004), covers: &[(191000, 191000), (191005, 191999), (192000, 192099)] },
    PackGate { gate: (192104, 192105), covers: &[(192101, 192103), (192106, 192199)] },
];

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_waf::{EngineMode, TxInfo};
    use std::sync::Arc;

    /// The rule ids of a rule file in order, each with the markers seen before it.
    fn ids_after_markers(body: &str) -> Vec<(u32, Vec<&str>)> {
        let mut markers = Vec::new();
        let mut out = Vec::new();
        for line in body.lines() {
            if let Some(m) = line.trim().strip_prefix("SecMarker ") {
                markers.push(m.trim());
            }
            for part in line.split(['"', ',']) {
                if let Some(id) = part.trim().strip_prefix("id:").and_then(|n| n.parse().ok()) {
                    out.push((id, markers.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn pack_gates_cover_exactly_their_sections() {
        let (detectors, params) = (&PACK_GATES[0], &PACK_GATES[1]);
        let mut seen = 0;
        for (name, body) in crate::builtin::FILES {
            for (id, markers) in ids_after_markers(body) {
                seen += 1;
                let in_detectors = (name.ends_with("/20-injection.conf") && markers.contains(&"PC-DETECTORS"))
                    || name.ends_with("/25-embedded.conf");
                let after_hpp_gate = body.find(&format!("id:{id},")) > body.find("id:192105,");
                let in_params = name.ends_with("/15-parameters.conf")
                    && after_hpp_gate
                    && !markers.contains(&"END-PC-PARAMETERS")
                    && id != 192105;
                assert_eq!(detectors.covers(id), in_detectors, "{name}: rule {id} and the detector gate");
                assert_eq!(params.covers(id), in_params, "{name}: rule {id} and the parameter-pollution gate");
            }
        }
        assert!(seen > 50, "only {seen} rule ids read from the pack");
    }

    fn config(dir: &std::path::Path, user_rules: &str) -> Config {
        std::fs::write(dir.join("user.conf"), user_rules).expect("temp dir is writable");
        let text = "[[listeners]]\nname = \"l\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\n\
                    targets = [\"127.0.0.1:9\"]\n[[routes]]\nname = \"all\"\nupstream = \"u\"\n\
                    [waf]\nrules = [\"builtin\", \"user.conf\"]\n";
        Config::from_str_at(text, None, dir.to_path_buf()).expect("test config is valid")
    }

    /// A client and gateway on loopback.
    fn loopback_info(unique_id: &str) -> TxInfo {
        let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
        TxInfo {
            unique_id: unique_id.into(),
            client_addr: loopback,
            client_port: 40000,
            server_addr: loopback,
            server_port: 8080,
        }
    }

    /// The ids of the rules that matched a GET of `uri` with `authorization`.
    fn matches(engine: Engine, uri: &str, authorization: &str) -> Vec<u32> {
        let mut tx = Arc::new(engine).transaction(loopback_info("gate-1"));
        tx.set_engine_mode(EngineMode::DetectionOnly);
        tx.request_line("GET", uri, "HTTP/1.1");
        tx.request_header(b"Host", b"shop.example");
        tx.request_header(b"Accept", b"application/json");
        tx.request_header(b"User-Agent", b"curl/8.5.0");
        tx.request_header(b"Authorization", authorization.as_bytes());
        let _ = tx.process_request_headers();
        let _ = tx.process_request_body();
        tx.process_logging();
        tx.matches().iter().map(|m| m.id).collect()
    }

    #[test]
    fn a_rule_file_that_widens_a_gated_rule_turns_that_gate_off() {
        let dir = tempfile::tempdir().expect("temp dir");
        let attack = "1' OR '1'='1' --";
        // without the user file's target, 191000 does not read Authorization and both gates stay
        let plain = build_engine(&config(dir.path(), "")).expect("pack loads");
        assert!(plain.rewritten_rules().is_empty());
        let full = plain.rule_count();
        assert!(!matches(plain, "/api/items?id=7", attack).contains(&191000));
        // the user adds Authorization to 191000, which the detector gate does not give the SQLi detector:
        // the gate must go, or it would skip 191000 on this request
        let widened = "SecRuleUpdateTargetById 191000 \"REQUEST_HEADERS:Authorization\"\n";
        let engine = build_engine(&config(dir.path(), widened)).expect("pack loads");
        assert_eq!(engine.rewritten_rules(), vec![191000]);
        assert_eq!(engine.rule_count(), full - 4, "the detector gate's four rules are removed, nothing else");
        assert!(matches(engine, "/api/items?id=7", attack).contains(&191000));
        // an exclusion only narrows: the gates stay
        let narrowed = "SecRuleUpdateTargetById 191000 \"!ARGS:id\"\n";
        let engine = build_engine(&config(dir.path(), narrowed)).expect("pack loads");
        assert!(engine.rewritten_rules().is_empty());
        assert_eq!(engine.rule_count(), full);
        // new transformations on a parameter-pollution rule turn that gate off only
        let retransformed = "SecRuleUpdateActionById 192101 \"t:none,t:urlDecodeUni\"\n";
        let engine = build_engine(&config(dir.path(), retransformed)).expect("pack loads");
        assert_eq!(engine.rewritten_rules(), vec![192101]);
        assert_eq!(engine.rule_count(), full - 2);
        // a gate removed in part goes whole; one removed whole stays removed
        let engine = build_engine(&config(dir.path(), "SecRuleRemoveById 191002\n")).expect("pack loads");
        assert_eq!(engine.rule_count(), full - 4);
        let found = matches(engine, "/api/items?id=1%27%20OR%20%271%27%3D%271%27%20--", "Bearer x");
        assert!(found.contains(&191000), "the detector rules still run: {found:?}");
        let engine = build_engine(&config(dir.path(), "SecRuleRemoveById 192104-192105\n")).expect("pack loads");
        assert_eq!(engine.rule_count(), full - 2);
    }

    /// `[waf] value_memo`: on by default (the second of two identical requests finds its values' scans in the
    /// memo), `false` builds an engine that never reads or writes it.
    #[test]
    fn value_memo_is_on_by_default_and_off_when_configured() {
        let dir = tempfile::tempdir().expect("temp dir");
        let stats_of_second = |text: &str| {
            let config = Config::from_str_at(text, None, dir.path().to_path_buf()).expect("test config is valid");
            let engine = Arc::new(build_engine(&config).expect("pack loads"));
            let run = || {
                let mut tx = engine.transaction(loopback_info("memo-1"));
                // the gateway sets the configured mode (the rule files leave `SecRuleEngine` to it)
                tx.set_engine_mode(EngineMode::On);
                tx.request_line("GET", "/api/items?q=hello%20world&sort=price", "HTTP/1.1");
                tx.request_header(b"Host", b"shop.example");
                tx.request_header(b"User-Agent", b"Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0");
                let _ = tx.process_request_headers();
                let _ = tx.process_request_body();
                tx.process_logging();
                tx.stats()
            };
            run();
            run()
        };
        std::fs::write(
            dir.path().join("rx.conf"),
            "SecRule ARGS|REQUEST_HEADERS \"@rx (?i)union\\s+select\" \"id:1,phase:1,t:none,t:urlDecodeUni,deny\"\n\
             SecRule ARGS|REQUEST_HEADERS \"@rx <script\" \"id:2,phase:1,t:none,t:lowercase,t:htmlEntityDecode,deny\"\n",
        )
        .expect("temp dir is writable");
        let base = "[[listeners]]\nname = \"l\"\naddress = \"127.0.0.1:0\"\n[[upstreams]]\nname = \"u\"\n\
                    targets = [\"127.0.0.1:9\"]\n[[routes]]\nname = \"all\"\nupstream = \"u\"\n\
                    [waf]\nrules = [\"rx.conf\"]\n";
        let on = stats_of_second(base);
        assert!(on.memo_hits > 0, "{on:?}");
        let off = stats_of_second(&format!("{base}value_memo = false\n"));
        assert_eq!((off.memo_hits, off.memo_misses), (0, 0), "{off:?}");
        assert_eq!((off.rules, off.values), (on.rules, on.values), "the same rules run either way");
    }

    #[test]
    fn a_route_removing_part_of_a_gate_removes_all_of_it() {
        assert_eq!(route_removals(&[191000]), vec![(191000, 191000)]);
        assert_eq!(route_removals(&[191002, 942100]), vec![(191002, 191002), (942100, 942100), (191001, 191004)]);
        assert_eq!(route_removals(&[192105]), vec![(192105, 192105), (192104, 192105)]);
    }
}
