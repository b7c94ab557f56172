//! [`Engine`]: a loaded, immutable rule set plus settings, shared by all transactions (`Send + Sync`).
//!
//! # The gateway's view
//!
//! Load once (any error means nothing loads), share behind an `Arc`, run one [`Transaction`] per HTTP
//! exchange through the phases, act on the first [`Intervention`](crate::Intervention), always finish with
//! `process_logging`:
//!
//! ```
//! use portcullis_waf::{Engine, InterventionAction, TxInfo};
//! use std::sync::Arc;
//!
//! let rules = r#"
//! SecRuleEngine On
//! SecDefaultAction "phase:1,log,auditlog,deny,status:403"
//! SecRule ARGS "@rx (?i)union\s+select" "id:1001,phase:1,block,msg:'SQLi in %{MATCHED_VAR_NAME}',severity:CRITICAL"
//! "#;
//! // or Engine::from_files(&["crs-setup.conf".into(), "rules/*.conf".into()])
//! let engine = Arc::new(Engine::from_str(rules, "inline.conf")?);
//! assert!(!engine.settings().request_body_access);
//!
//! let mut tx = engine.transaction(TxInfo {
//!     unique_id: "abc123".into(),
//!     client_addr: "192.0.2.7".parse().unwrap(),
//!     client_port: 51000,
//!     server_addr: "192.0.2.1".parse().unwrap(),
//!     server_port: 443,
//! });
//! tx.request_line("GET", "/search?q=1%20UNION%20SELECT%20pw", "HTTP/1.1");
//! tx.request_header(b"Host", b"example.com");
//! let iv = tx.process_request_headers().expect("blocked");
//! assert_eq!((iv.status, iv.rule_id, iv.action), (403, 1001, InterventionAction::Deny));
//! // (phase 2: tx.append_request_body(chunk)?; tx.process_request_body();
//! //  responses: response_status / response_header / process_response_headers /
//! //  append_response_body / process_response_body)
//! tx.process_logging();
//! let meta = tx.log_meta();
//! let m = &tx.matches()[0]; // `&mut`: renders the texts a match deferred
//! assert_eq!(m.msg, "SQLi in ARGS:q");
//! let line = m.modsec_log_line(&meta);
//! assert!(line.contains(r#"[id "1001"]"#) && line.contains(r#"[unique_id "abc123"]"#));
//! # Ok::<(), portcullis_waf::LoadError>(())
//! ```

use crate::body::BodyLimits;
use crate::error::{LoadError, Location};
use crate::persist::Store;
use crate::seclang::{self, loader, RuleSet};
use crate::settings::Settings;
use crate::transaction::{Transaction, TxInfo};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub struct Engine {
    pub(crate) rules: RuleSet,
    pub(crate) settings: Settings,
    pub(crate) store: Store,
    /// Body processor limits derived from the settings (`SecArgumentsLimit`, JSON depth...).
    pub(crate) body_limits: BodyLimits,
    /// The `@rx` literal prefilter (per value and per rule) is used; off only to prove it changes nothing.
    pub(crate) rx_prefilter: bool,
    /// Load-time verdicts of constant `TX` flow rules are used (`crate::fold`); off only to prove they change
    /// nothing.
    pub(crate) fold: bool,
    /// Links that read one `TX` variable by name are evaluated straight from the table
    /// (`transaction::tx_link`); off only to prove it changes nothing.
    pub(crate) tx_link_fast: bool,
    /// A match's `msg`/`data` that read only `TX` are rendered when read or before `TX` next changes
    /// (`transaction::log::DeferredText`), not when the rule matches; off only to prove it changes nothing.
    pub(crate) defer_match_text: bool,
    /// Values' prefilter entries are carried from one transaction to the next on a worker thread
    /// (`transaction::memo`); off only to prove it changes nothing.
    pub(crate) scan_memo: bool,
    /// This engine's key in the memo: unique per engine built, so entries never outlive their rules.
    pub(crate) memo_id: u64,
    /// The detector classes of the rule set's operators (`Operator::detector_class`, as
    /// `portcullis_detect::prefilter::class_bit` bits): the only ones the detector families decide
    /// (`Classes::mask_of`), so CRS (`@detectSQLi` and `@detectXSS` only) pays no other class's word test.
    pub(crate) detector_classes: u16,
    /// Emptied buffers of finished transactions, reused by the next ones.
    pub(crate) pool: crate::transaction::TxPool,
}

impl Engine {
    /// Loads rule files in order. Each path may be a glob (`rules/*.conf`, sorted); `Include`s inside are
    /// resolved relative to the including file.
    pub fn from_files(paths: &[PathBuf]) -> Result<Engine, LoadError> {
        let mut directives = Vec::new();
        let top = Location { file: PathBuf::from("<from_files>"), line: 0 };
        for p in paths {
            for f in loader::expand_pattern(p, &top)? {
                let mut stack = Vec::new();
                loader::load_file(&f, &mut stack, &top, &mut directives)?;
            }
        }
        Self::build(directives)
    }

    /// Loads rules from text; `name` is used in error messages and as the base for relative `Include`s.
    pub fn from_str(text: &str, name: &str) -> Result<Engine, LoadError> {
        let mut directives = Vec::new();
        let mut stack = Vec::new();
        loader::load_text(text, Path::new(name), &mut stack, &mut directives)?;
        Self::build(directives)
    }

    fn build(directives: Vec<seclang::RawDirective>) -> Result<Engine, LoadError> {
        let (settings, rules) = seclang::compile(directives)?;
        let body_limits = body_limits_of(&settings);
        let detector_classes = rules
            .phases
            .iter()
            .flatten()
            .flat_map(|r| &r.links)
            .filter_map(|l| l.op.detector_class())
            .fold(0, |m, c| m | portcullis_detect::prefilter::class_bit(c));
        crate::fold::fold(Engine {
            rules,
            settings,
            store: Store::default(),
            body_limits,
            rx_prefilter: true,
            fold: true,
            tx_link_fast: true,
            defer_match_text: true,
            scan_memo: true,
            memo_id: crate::transaction::next_memo_id(),
            detector_classes,
            pool: Default::default(),
        })
    }

    /// Turns the `@rx` literal prefilter off (every regex runs on every value) or on (the default). The
    /// prefilter is a pure shortcut: the CRS regression equivalence test runs the suite both ways and
    /// compares the matched rule ids.
    pub fn with_rx_prefilter(mut self, on: bool) -> Engine {
        self.rx_prefilter = on;
        self
    }

    /// Turns the use of load-time rule verdicts (`crate::fold`) off (every rule is evaluated) or on (the
    /// default). Folding is a pure shortcut: the CRS regression equivalence test runs the suite both ways.
    pub fn with_folding(mut self, on: bool) -> Engine {
        self.fold = on;
        self
    }

    /// Turns the direct evaluation of `TX:<key>` links (`transaction::tx_link`) off (every link collects its
    /// values the general way) or on (the default); a pure shortcut, compared both ways by `tests/tx_link.rs`.
    pub fn with_tx_link_fast(mut self, on: bool) -> Engine {
        self.tx_link_fast = on;
        self
    }

    /// Renders every match's `msg` and `data` when the rule matches (off) or, for the texts that read only
    /// `TX`, when they are read or before `TX` next changes (on, the default); a pure shortcut, compared both
    /// ways by `tests/match_text.rs`.
    pub fn with_deferred_match_text(mut self, on: bool) -> Engine {
        self.defer_match_text = on;
        self
    }

    /// Carries values' prefilter entries from one transaction to the next on the same worker thread (on, the
    /// default) or scans every value anew in every transaction (off); a pure shortcut, compared both ways by
    /// `tests/scan_memo.rs` and the CRS regression equivalence test.
    pub fn with_scan_memo(mut self, on: bool) -> Engine {
        self.scan_memo = on;
        self
    }

    /// Rules with a load-time verdict: (never match, always match).
    pub fn folded_rules(&self) -> (usize, usize) {
        (self.rules.fold.never, self.rules.fold.always)
    }

    /// Ids of the rules with a load-time verdict, with the verdict (`true`: always matches), in rule order.
    pub fn folded_ids(&self) -> Vec<(u32, bool)> {
        self.rules.phases.iter().flatten().filter_map(|r| r.folded.map(|f| (r.id, f))).collect()
    }

    /// Is a rule with this id loaded (not removed by `SecRuleRemoveBy*`)?
    pub fn has_rule(&self, id: u32) -> bool {
        self.rules.ids.binary_search(&id).is_ok()
    }

    /// Ids of the rules whose targets or transformations a later directive changed (`Rule::rewritten`), in
    /// rule order.
    pub fn rewritten_rules(&self) -> Vec<u32> {
        self.rules.phases.iter().flatten().filter(|r| r.rewritten).map(|r| r.id).collect()
    }

    /// Settings the gateway needs (engine mode, body access, limits, inspected response types).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Number of rules (chain starters) loaded, over all phases.
    pub fn rule_count(&self) -> usize {
        self.rules.rule_count()
    }

    /// One-line summary of what was compiled (rules per phase, transformation chains, prefilter size).
    pub fn describe(&self) -> String {
        let r = &self.rules;
        let per_phase: Vec<usize> = r.phases.iter().map(Vec::len).collect();
        let rx = r
            .phases
            .iter()
            .flatten()
            .flat_map(|rule| rule.links.iter())
            .filter(|l| l.op_name.eq_ignore_ascii_case("rx"))
            .count();
        let f = &r.fold;
        let folded = match f.refused {
            Some(why) => format!("nothing folded ({why})"),
            None => format!("{} rules folded ({} never, {} always)", f.never + f.always, f.never, f.always),
        };
        let folded = match &f.snapshot {
            Some(s) => {
                format!("{folded}, initialisation of {} rules replayed ({} TX values)", f.prefix_end, s.tx.len())
            }
            None => folded,
        };
        format!(
            "rules per phase {per_phase:?}, {} transformation chains, {rx} @rx; {} operators prefiltered by {} literals and {} bytes; {folded}",
            r.chains.len(),
            r.prefilter.regex_count(),
            r.prefilter.literal_count(),
            r.prefilter.byte_count()
        )
    }

    /// Starts a transaction. Takes the `Arc` so the transaction is `'static` and can move across tasks.
    pub fn transaction(self: &Arc<Self>, info: TxInfo) -> Transaction {
        Transaction::new(Arc::clone(self), info)
    }
}

/// Body processor limits from the settings; `SecRequestBodyJsonDepthLimit` is kept verbatim in
/// `Settings::passthrough`.
fn body_limits_of(settings: &Settings) -> BodyLimits {
    let mut limits = BodyLimits { max_args: settings.arguments_limit, ..BodyLimits::default() };
    let json_depth = settings.passthrough.iter().rev().find(|(name, _)| {
        name.eq_ignore_ascii_case("SecRequestBodyJsonDepthLimit")
            || name.eq_ignore_ascii_case("SecRequestBodyJsonDepth")
    });
    if let Some(depth) = json_depth.and_then(|(_, args)| args.first()).and_then(|a| a.trim().parse().ok()) {
        limits.max_json_depth = depth;
    }
    limits
}
