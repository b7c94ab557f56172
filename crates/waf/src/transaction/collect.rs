//! Reading variables: turning a rule's targets into the list of values it inspects, with exclusions
//! (`!ARGS:x`, `ctl:ruleRemoveTarget*`) applied, and macro expansion (`MacroEnv`).

use super::{Kv, Span, Transaction};
use crate::macros::MacroEnv;
use crate::rule::{Link, Rule};
use crate::variables::{name_of, Selector, Target, Var};
use std::collections::HashMap;

/// The exclusions applied while collecting a target's members (`!VAR:key` in the rule, `ctl` target
/// removals): `None` when there are none, so the common case makes no call per member.
#[derive(Clone, Copy)]
pub(crate) struct Excl<'a>(pub Option<&'a ExclFn<'a>>);

/// Is the member with this key excluded?
pub(crate) type ExclFn<'a> = dyn Fn(&Transaction, &[u8]) -> bool + 'a;

impl Excl<'_> {
    /// Is the member named `key` excluded?
    #[inline]
    fn hit(&self, tx: &Transaction, key: &[u8]) -> bool {
        self.0.is_some_and(|f| f(tx, key))
    }
}

/// The targets `ctl:ruleRemoveTarget*` removed, per rule id (`Exclusions::targets`). CRS's 941010 removes
/// `REQUEST_FILENAME` from the 33 rules tagged `xss-perf-disable` on nearly every request: one `ctl` naming many
/// ids and the same targets. So a `ctl` is kept as it came, its ids (sorted, once) beside its targets, not
/// spread into an entry per id: adding it copies the ids instead of hashing and inserting each (≈ 230
/// instructions an id), and a look-up is a binary search in each `ctl`'s ids (nearly always one `ctl`).
#[derive(Debug, Default)]
pub(crate) struct TargetRemovals {
    /// The ids of every `ctl`, each `ctl`'s run sorted and without repeats (`ctls` holds the runs' ends).
    ids: Vec<u32>,
    /// Per `ctl`, in the order they ran: the end of its run in `ids` and the targets it removed.
    ctls: Vec<(u32, std::sync::Arc<[Target]>)>,
    /// The least and greatest id of all runs (meaningful once `ctls` holds one): most rules asked about lie
    /// outside (941010's ids are 941xxx; the score rules asked after it are 949xxx and beyond), and are
    /// answered without a search.
    lo: u32,
    hi: u32,
}

impl TargetRemovals {
    pub(crate) fn is_empty(&self) -> bool {
        self.ctls.is_empty()
    }

    /// The ids of each `ctl` with its targets.
    fn runs(&self) -> impl Iterator<Item = (&[u32], &[Target])> {
        let mut start = 0;
        self.ctls.iter().map(move |(end, t)| {
            let run = self.ids.get(start..*end as usize).unwrap_or(&[]);
            start = *end as usize;
            (run, &t[..])
        })
    }

    /// Can `id` be among the runs? (`false` when no `ctl` ran.)
    #[inline]
    fn may_hold(&self, id: u32) -> bool {
        !self.ctls.is_empty() && self.lo <= id && id <= self.hi
    }

    pub(crate) fn contains_key(&self, id: &u32) -> bool {
        self.may_hold(*id) && self.runs().any(|(ids, _)| ids.binary_search(id).is_ok())
    }

    /// The targets removed from rule `id`, in the order the `ctl`s named them (each `ctl`'s once, whether it
    /// named the id once or more: readers only ask whether a target is among them); borrowed when one `ctl`
    /// named the id.
    pub(crate) fn get(&self, id: &u32) -> Option<std::borrow::Cow<'_, [Target]>> {
        if !self.may_hold(*id) {
            return None;
        }
        let mut found: Option<std::borrow::Cow<'_, [Target]>> = None;
        for (ids, t) in self.runs() {
            if ids.binary_search(id).is_err() {
                continue;
            }
            found = Some(match found {
                None => std::borrow::Cow::Borrowed(t),
                Some(prev) => {
                    let mut v = prev.into_owned();
                    v.extend(t.iter().cloned());
                    std::borrow::Cow::Owned(v)
                }
            });
        }
        found
    }

    /// Records a `ctl` removing `targets` from each rule of `ids` (a rule named is in the table even when
    /// `targets` is empty, as `entry().or_default()` made it; a `ctl` naming no id leaves no trace).
    pub(crate) fn add(&mut self, ids: impl Iterator<Item = u32>, targets: &[Target]) {
        let start = self.ids.len();
        self.ids.extend(ids);
        let run = &mut self.ids[start..];
        if run.is_empty() {
            return;
        }
        // a tag's id list is in load order, which need not be ascending
        if !run.is_sorted() {
            run.sort_unstable();
        }
        let mut n = 1;
        for k in 1..run.len() {
            if run[k] != run[n - 1] {
                run[n] = run[k];
                n += 1;
            }
        }
        self.ids.truncate(start + n);
        self.close_run(start, targets.into());
    }

    /// [`Self::add`] for ids already sorted and without repeats (a `ctl` resolved at load,
    /// `TargetsByTag::ids`): no sort, and the targets shared instead of copied.
    pub(crate) fn add_sorted(&mut self, ids: &[u32], targets: &std::sync::Arc<[Target]>) {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]));
        if ids.is_empty() {
            return;
        }
        let start = self.ids.len();
        self.ids.extend_from_slice(ids);
        self.close_run(start, std::sync::Arc::clone(targets));
    }

    /// Ends the run of ids from `start` (not empty, sorted, no repeats) as a `ctl` removing `targets`.
    fn close_run(&mut self, start: usize, targets: std::sync::Arc<[Target]>) {
        let (first, last) = (self.ids[start], self.ids[self.ids.len() - 1]);
        (self.lo, self.hi) = if self.ctls.is_empty() { (first, last) } else { (self.lo.min(first), self.hi.max(last)) };
        self.ctls.push((self.ids.len() as u32, targets));
    }
}

/// The phase's list cache (`Transaction::list_cache`): per interned target list (`Rule::target_list`, dense
/// ids from 0, so a list is found by index, not by hashing), its values as collected in the current phase. An
/// entry outlives the phase and the transaction (the pool keeps the cache), so its vector's room is reused
/// instead of a vector being allocated per shared list and phase. A phase's start makes every entry stale at
/// once by moving to the next stamp ([`forget_lists`]): no walk over the entries, and an entry's stale values
/// are dropped only when its list is collected again (they are spans of an arena that was cleared and keys
/// the rules name, never request bytes).
#[derive(Debug)]
pub(crate) struct ListCache {
    lists: Vec<CachedList>,
    /// The current phase's stamp: an entry is fresh when it bears it. Never 0, the stamp of an entry that
    /// was never collected.
    epoch: u32,
}

impl Default for ListCache {
    fn default() -> Self {
        ListCache { lists: Vec::new(), epoch: 1 }
    }
}

/// One shared target list of the [`ListCache`].
#[derive(Debug, Default)]
pub(crate) struct CachedList {
    /// The stamp of the phase that collected `items` (`ListCache::epoch`); fresh when it is the current one.
    epoch: u32,
    pub items: Vec<Item>,
}

impl ListCache {
    /// The number of entries (for the pool's size check).
    pub(crate) fn capacity(&self) -> usize {
        self.lists.capacity()
    }

    /// Does every entry's vector hold at most `n` items' room? (The pool's size check.)
    pub(crate) fn lists_within(&self, n: usize) -> bool {
        self.lists.iter().all(|l| l.items.capacity() <= n)
    }

    /// The entry of list `id` when it was collected in the current phase.
    fn fresh_mut(&mut self, id: u32) -> Option<&mut CachedList> {
        let epoch = self.epoch;
        self.lists.get_mut(id as usize).filter(|l| l.epoch == epoch)
    }
}

/// Marks every list of the cache stale (a phase starts, or the transaction's buffers go back to the pool):
/// the next stamp, so no entry bears it. When the stamps run out, every entry is reset to 0 (never
/// collected) and they start again at 1. The ids are the engine's (`intern_target_lists`), and the pool is
/// the engine's, so a kept entry is only ever reused under the same list.
pub(crate) fn forget_lists(cache: &mut ListCache) {
    if cache.epoch == u32::MAX {
        for l in &mut cache.lists {
            l.epoch = 0;
        }
        cache.epoch = 0;
    }
    cache.epoch += 1;
}

/// A value to inspect: a span of request data (cacheable) or a computed/mutable value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Arena(Span),
    Owned(Vec<u8>),
    /// Computed bytes that need no room of their own: a number below 1,000 (the counts `&VAR` gives, a
    /// response status, a short body's length), a flag's `0`/`1`, a fixed scalar. CRS reads about a dozen
    /// such values on every request (920280's `&REQUEST_HEADERS:Host`, 901340's `REQBODY_PROCESSOR`, …); each
    /// was formatted into a new vector, which cost as much as the rule's operator and walk together.
    Static(&'static [u8]),
}

/// The decimal text of every number below 1,000, each in 3 bytes (`number` takes its digits).
static DECIMAL: [[u8; 3]; 1000] = decimal_table();

const fn decimal_table() -> [[u8; 3]; 1000] {
    let mut t = [[0u8; 3]; 1000];
    let mut n = 0;
    while n < 1000 {
        t[n] = [b'0' + (n / 100) as u8, b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8];
        n += 1;
    }
    t
}

/// `n` in decimal, as `n.to_string()` writes it: from the static table below 1,000, else in a new vector.
pub(crate) fn number(n: u64) -> Val {
    match usize::try_from(n).ok().and_then(|i| DECIMAL.get(i)) {
        Some(d) => {
            let digits = 1 + usize::from(n >= 10) + usize::from(n >= 100);
            Val::Static(&d[3 - digits..])
        }
        None => Val::Owned(n.to_string().into_bytes()),
    }
}

/// A flag's value: `1` when set, `0` when not.
fn flag(b: bool) -> Val {
    Val::Static(if b { b"1" } else { b"0" })
}

#[derive(Debug, Clone)]
pub(crate) enum Key {
    None,
    Arena(Span),
    Owned(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub var: Var,
    pub key: Key,
    pub value: Val,
    /// The `pf_bits` offset of the value's untransformed prefilter entry (`gate::pf_bits_of`, chain 0), when
    /// the item was copied from a gate source's member list (`gate::SourceLists`), which records it; else
    /// [`NO_PF`]. Lets a rule's evaluation read the entry without looking it up by value (`pf_cache`).
    pub pf: u32,
}

/// [`Item::pf`] of an item whose untransformed entry is not known (not yet scanned, or not looked up).
pub(crate) const NO_PF: u32 = u32::MAX;

/// Sets `Rule::target_list` (called once at load, after target updates): rules of a phase whose first
/// target lists are the same text (variables, keys and exclusions in the same order) get the same id, when
/// the values it names cannot change while a phase runs (arena data of the request and response; no `&`
/// counts, which are computed), so collecting it once per phase is exact. A list only one rule of its phase
/// reads keeps no id: caching it would only add a copy.
pub(crate) fn intern_target_lists(phases: &mut [Vec<Rule>; 5]) {
    let mut ids: HashMap<String, u32> = HashMap::new();
    for rules in phases.iter_mut() {
        let mut uses: HashMap<u32, u32> = HashMap::new();
        for r in rules.iter_mut() {
            r.target_list = None;
            let Some(head) = r.links.first() else { continue };
            if head.targets.is_empty() || head.targets.iter().any(|t| t.count || !super::gate::phase_static(t.var)) {
                continue;
            }
            let next = ids.len() as u32;
            let id = *ids.entry(format!("{:?}", head.targets)).or_insert(next);
            *uses.entry(id).or_default() += 1;
            r.target_list = Some(id);
        }
        for r in rules.iter_mut() {
            if r.target_list.is_some_and(|id| uses.get(&id).is_some_and(|n| *n < 2)) {
                r.target_list = None;
            }
        }
    }
}

/// Appends `b` to `out` as `String::from_utf8_lossy` would render it, without its byte-by-byte walk when
/// `b` is valid UTF-8 (key names nearly always are: `str::from_utf8` checks them a word at a time).
pub(crate) fn push_lossy(out: &mut String, b: &[u8]) {
    match std::str::from_utf8(b) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(b)),
    }
}

impl Transaction {
    /// The values of a rule link into `out` (empty), from the phase's list cache when the rule's first target
    /// list is shared and no `ctl:ruleRemoveTarget*` applies to the rule; otherwise collected afresh.
    ///
    /// A list already in the cache is lent, not copied: `out` and the cached vector swap places, and the
    /// caller must give it back with [`Self::return_list`] when it returns `Some(id)` (a CRS or pack rule
    /// reads tens of values; copying them cost more than the rest of a rule that matches none). Nothing
    /// reads the cache while a link evaluates its values (actions and macros read variables directly).
    pub(crate) fn collect_link_cached(
        &mut self,
        rule: &Rule,
        link: &Link,
        is_head: bool,
        out: &mut Vec<Item>,
    ) -> Option<u32> {
        let list = rule.target_list.filter(|_| is_head && !self.excl.targets.contains_key(&rule.id));
        let Some(id) = list else {
            self.collect_link(rule, link, is_head, out);
            return None;
        };
        if let Some(l) = self.list_cache.fresh_mut(id) {
            if l.items.is_empty() {
                return None;
            }
            std::mem::swap(&mut l.items, out);
            return Some(id);
        }
        // the first rule to read the list collects it and lends it at once: the cache keeps an empty vector in
        // its place until `return_list` swaps the list back (no copy of the values, and the caller's buffer
        // gets that vector's room for the lists it collects next). The entry of an earlier phase or
        // transaction is reused, emptied of its stale values, with its room (`forget_lists`).
        self.collect_link(rule, link, is_head, out);
        let cache = &mut self.list_cache;
        let at = id as usize;
        if cache.lists.len() <= at {
            cache.lists.resize_with(at + 1, CachedList::default);
        }
        let l = &mut cache.lists[at];
        l.epoch = cache.epoch;
        l.items.clear();
        if l.items.capacity() == 0 {
            l.items = Vec::with_capacity(out.capacity());
        }
        Some(id)
    }

    /// Gives the list `collect_link_cached` lent (`Some(id)`) back to the cache; `items` gets back the empty
    /// buffer it lent in exchange (with `None` it is left as it is: the next link clears it).
    pub(crate) fn return_list(&mut self, lent: Option<u32>, items: &mut Vec<Item>) {
        if let Some(slot) = lent.and_then(|id| self.list_cache.lists.get_mut(id as usize)) {
            std::mem::swap(&mut slot.items, items);
        }
    }

    pub(crate) fn val<'a>(&'a self, v: &'a Val) -> &'a [u8] {
        match v {
            Val::Arena(s) => self.get(*s),
            Val::Owned(o) => o,
            Val::Static(b) => b,
        }
    }

    /// `ARGS:foo`, `REQUEST_URI`, `TX:score`.
    pub(crate) fn write_item_name(&self, it: &Item, out: &mut String) {
        out.push_str(name_of(it.var));
        match &it.key {
            Key::None => {}
            Key::Arena(s) => {
                out.push(':');
                push_lossy(out, self.get(*s));
            }
            Key::Owned(k) => {
                out.push(':');
                out.push_str(k);
            }
        }
    }

    /// Collects the values a rule link inspects into `out`.
    pub(crate) fn collect_link(&self, rule: &Rule, link: &Link, is_head: bool, out: &mut Vec<Item>) {
        let removed = if is_head && !self.excl.targets.is_empty() { self.excl.targets.get(&rule.id) } else { None };
        let ctl_excl: &[Target] = removed.as_deref().unwrap_or(&[]);
        for (k, t) in link.targets.iter().enumerate().filter(|(_, t)| !t.exclude) {
            // a ctl removal without key removes the whole variable
            if ctl_excl.iter().any(|x| x.var == t.var && matches!(x.selector, Selector::All)) {
                continue;
            }
            // known at load for most targets (`Link::unexcluded`): no `!VAR:key` of the link names the variable
            let has_link_excl = (k >= 64 || link.unexcluded & (1 << k) == 0)
                && link.targets.iter().any(|x| x.exclude && x.var == t.var);
            let has_ctl_excl = ctl_excl.iter().any(|x| x.var == t.var);
            let start = out.len();
            if has_link_excl || has_ctl_excl {
                let excluded = |_: &Transaction, key: &[u8]| {
                    link.targets.iter().filter(|x| x.exclude && x.var == t.var).any(|x| x.selector.matches_key(key))
                        || ctl_excl.iter().filter(|x| x.var == t.var).any(|x| x.selector.matches_key(key))
                };
                self.members(t, Excl(Some(&excluded)), out);
            } else if let Some(list) = link.sources.get(k).and_then(|b| self.source_list(*b)) {
                // the phase's member list of the gate source the target reads (`Link::sources`)
                out.extend_from_slice(list);
            } else {
                self.members(t, Excl(None), out);
            }
            if t.count {
                let n = out.len() - start;
                out.truncate(start);
                out.push(Item { var: t.var, key: Key::None, value: number(n as u64), pf: NO_PF });
            }
        }
    }

    fn kvs(&self, var: Var, list: &[Kv], names: bool, t: &Target, excluded: Excl<'_>, out: &mut Vec<Item>) {
        // every member, unless a selector or an exclusion picks: then each key is read and tested
        let picks = excluded.0.is_some() || !matches!(t.selector, Selector::All | Selector::XPath(_));
        if !picks {
            // every member: one reservation and a tight copy (an exact-size iterator), not a capacity check
            // and a branch per member
            out.extend(list.iter().map(|kv| Item {
                var,
                key: Key::Arena(kv.name),
                value: Val::Arena(if names { kv.name } else { kv.value }),
                pf: NO_PF,
            }));
            return;
        }
        for kv in list {
            let k = self.get(kv.name);
            if !t.selector.matches_key(k) || excluded.hit(self, k) {
                continue;
            }
            let value = if names { kv.name } else { kv.value };
            out.push(Item { var, key: Key::Arena(kv.name), value: Val::Arena(value), pf: NO_PF });
        }
    }

    fn map_members<'m>(
        &self,
        var: Var,
        map: impl Iterator<Item = (&'m String, &'m Vec<u8>)>,
        t: &Target,
        excluded: Excl<'_>,
        out: &mut Vec<Item>,
    ) {
        if let Selector::Key(k) = &t.selector {
            // fast path: exact key
            for (name, v) in map {
                if name == k && !excluded.hit(self, name.as_bytes()) {
                    out.push(Item { var, key: Key::Owned(name.clone()), value: Val::Owned(v.clone()), pf: NO_PF });
                }
            }
            return;
        }
        for (name, v) in map {
            if t.selector.matches_key(name.as_bytes()) && !excluded.hit(self, name.as_bytes()) {
                out.push(Item { var, key: Key::Owned(name.clone()), value: Val::Owned(v.clone()), pf: NO_PF });
            }
        }
    }

    pub(crate) fn scalar(&self, var: Var) -> Option<Val> {
        let r = &self.req;
        let owned = |s: String| Some(Val::Owned(s.into_bytes()));
        let flag = |b: bool| Some(flag(b));
        let num = |n: u64| Some(number(n));
        let empty = || Some(Val::Static(b""));
        match var {
            Var::RequestUri => Some(Val::Arena(r.uri)),
            Var::RequestUriRaw => Some(Val::Arena(r.uri_raw)),
            Var::RequestFilename => Some(Val::Arena(r.filename)),
            Var::RequestBasename => Some(Val::Arena(r.basename)),
            Var::RequestLine => Some(Val::Arena(r.line)),
            Var::RequestMethod => Some(Val::Arena(r.method)),
            Var::RequestProtocol => Some(Val::Arena(r.protocol)),
            Var::QueryString => Some(Val::Arena(r.query)),
            Var::RequestBody => Some(Val::Arena(r.body_span)),
            Var::RequestBodyLength => num(r.body_span.len as u64),
            Var::ArgsCombinedSize => {
                let n: u64 = r.args_get.iter().chain(&r.args_post).map(|kv| (kv.name.len + kv.value.len) as u64).sum();
                num(n)
            }
            Var::ReqbodyError => flag(r.body_error.is_some()),
            Var::ReqbodyErrorMsg => owned(r.body_error.clone().unwrap_or_default()),
            Var::ReqbodyProcessor => match r.body_processor.as_deref() {
                None => empty(),
                Some("URLENCODED") => Some(Val::Static(b"URLENCODED")),
                Some("MULTIPART") => Some(Val::Static(b"MULTIPART")),
                Some("JSON") => Some(Val::Static(b"JSON")),
                Some("XML") => Some(Val::Static(b"XML")),
                Some(p) => owned(p.to_string()),
            },
            Var::ReqbodyProcessorError => flag(r.body_error.is_some()),
            Var::UrlencodedError => flag(r.urlencoded_error),
            Var::FilesCombinedSize => num(r.files_sizes.iter().sum::<u64>()),
            Var::MultipartStrictError => flag(r.multipart.strict_error),
            Var::MultipartUnmatchedBoundary => num(r.multipart.unmatched_boundary as u64),
            Var::MultipartBoundaryQuoted => flag(r.multipart.boundary_quoted),
            Var::MultipartBoundaryWhitespace => flag(r.multipart.boundary_whitespace),
            Var::MultipartDataBefore => flag(r.multipart.data_before),
            Var::MultipartDataAfter => flag(r.multipart.data_after),
            Var::MultipartHeaderFolding => flag(r.multipart.header_folding),
            Var::MultipartLfLine => flag(r.multipart.lf_line),
            Var::MultipartMissingSemicolon => flag(r.multipart.missing_semicolon),
            Var::MultipartInvalidQuoting => flag(r.multipart.invalid_quoting),
            Var::MultipartInvalidPart => flag(r.multipart.invalid_part),
            Var::MultipartInvalidHeaderFolding => flag(r.multipart.invalid_header_folding),
            Var::MultipartFileLimitExceeded => flag(r.multipart.file_limit_exceeded),
            Var::MultipartCrlfLfLines => flag(r.multipart.crlf_lf_lines),
            Var::InboundDataError | Var::OutboundDataError => flag(false),
            Var::MatchedVar => Some(Val::Owned(self.matched_var.clone())),
            Var::MatchedVarName => owned(self.matched_var_name.clone()),
            Var::ResponseStatus => {
                if self.resp.status == 0 {
                    empty()
                } else {
                    num(self.resp.status.into())
                }
            }
            Var::ResponseProtocol => Some(Val::Arena(self.resp.protocol)),
            Var::ResponseBody => Some(Val::Arena(self.resp.body_span)),
            Var::ResponseContentType => {
                Some(Val::Owned(self.header_value(&self.resp.headers, b"content-type").unwrap_or(b"").to_vec()))
            }
            Var::ResponseContentLength => {
                Some(Val::Owned(self.header_value(&self.resp.headers, b"content-length").unwrap_or(b"").to_vec()))
            }
            Var::RemoteAddr => Some(Val::Arena(r.remote_addr)),
            Var::RemotePort => owned(self.info.client_port.to_string()),
            Var::RemoteHost => Some(Val::Arena(r.remote_addr)),
            Var::ServerAddr => owned(self.info.server_addr.to_string()),
            Var::ServerPort => owned(self.info.server_port.to_string()),
            Var::ServerName => Some(Val::Owned(self.header_value(&self.req.headers, b"host").unwrap_or(b"").to_vec())),
            Var::UniqueId => owned(self.info.unique_id.clone()),
            Var::Duration => owned(self.started.elapsed().as_micros().to_string()),
            Var::HighestSeverity => {
                if self.highest_severity == 255 {
                    empty()
                } else {
                    num(self.highest_severity.into())
                }
            }
            Var::StatusLine => empty(),
            Var::FullRequest => Some(Val::Arena(r.line)),
            Var::FullRequestLength => owned((r.line.len as usize + r.body_span.len as usize).to_string()),
            Var::AuthType => empty(),
            Var::Time
            | Var::TimeDay
            | Var::TimeEpoch
            | Var::TimeHour
            | Var::TimeMin
            | Var::TimeMon
            | Var::TimeSec
            | Var::TimeWday
            | Var::TimeYear => owned(time_var(var)),
            _ => None,
        }
    }

    /// Appends the members of `t` (before `&` counting) to `out`.
    pub(crate) fn members(&self, t: &Target, excluded: Excl<'_>, out: &mut Vec<Item>) {
        let r = &self.req;
        match t.var {
            Var::Args => {
                self.kvs(Var::Args, &r.args_get, false, t, excluded, out);
                self.kvs(Var::Args, &r.args_post, false, t, excluded, out);
            }
            Var::ArgsGet => self.kvs(Var::ArgsGet, &r.args_get, false, t, excluded, out),
            Var::ArgsPost => self.kvs(Var::ArgsPost, &r.args_post, false, t, excluded, out),
            Var::ArgsNames => {
                self.kvs(Var::ArgsNames, &r.args_get, true, t, excluded, out);
                self.kvs(Var::ArgsNames, &r.args_post, true, t, excluded, out);
            }
            Var::ArgsGetNames => self.kvs(Var::ArgsGetNames, &r.args_get, true, t, excluded, out),
            Var::ArgsPostNames => self.kvs(Var::ArgsPostNames, &r.args_post, true, t, excluded, out),
            Var::RequestHeaders => self.kvs(t.var, &r.headers, false, t, excluded, out),
            Var::RequestHeadersNames => self.kvs(t.var, &r.headers, true, t, excluded, out),
            Var::RequestCookies => self.kvs(t.var, &r.cookies, false, t, excluded, out),
            Var::RequestCookiesNames => self.kvs(t.var, &r.cookies, true, t, excluded, out),
            Var::ResponseHeaders => self.kvs(t.var, &self.resp.headers, false, t, excluded, out),
            Var::ResponseHeadersNames => self.kvs(t.var, &self.resp.headers, true, t, excluded, out),
            Var::Files | Var::FilesTmpNames => self.kvs(t.var, &r.files, false, t, excluded, out),
            Var::FilesNames => self.kvs(t.var, &r.files, true, t, excluded, out),
            Var::FilesTmpContent => {
                for (kv, content) in r.files.iter().zip(&r.files_content) {
                    let k = self.get(kv.name);
                    if t.selector.matches_key(k) && !excluded.hit(self, k) {
                        out.push(Item { var: t.var, key: Key::Arena(kv.name), value: Val::Arena(*content), pf: NO_PF });
                    }
                }
            }
            Var::FilesSizes => {
                for (kv, size) in r.files.iter().zip(&r.files_sizes) {
                    let k = self.get(kv.name);
                    if t.selector.matches_key(k) && !excluded.hit(self, k) {
                        out.push(Item { var: t.var, key: Key::Arena(kv.name), value: number(*size), pf: NO_PF });
                    }
                }
            }
            Var::MultipartPartHeaders => self.kvs(t.var, &r.multipart_part_headers, false, t, excluded, out),
            Var::Xml => {
                // `XML://@*` (any XPath naming attributes) → attribute values; anything else (`XML:/*`)
                // → the text nodes, as Coraza evaluates the only two XPaths CRS uses.
                let (key, values) = match &t.selector {
                    Selector::XPath(x) if x.contains('@') => ("//@*", &r.xml_attrs),
                    _ => ("/*", &r.xml_text),
                };
                if excluded.hit(self, key.as_bytes()) {
                    return;
                }
                for v in values {
                    out.push(Item {
                        var: Var::Xml,
                        key: Key::Owned(key.to_string()),
                        value: Val::Arena(*v),
                        pf: NO_PF,
                    });
                }
            }
            Var::MultipartName | Var::MultipartFilename => {
                let values = if t.var == Var::MultipartName { &r.multipart_names } else { &r.multipart_filenames };
                for v in values {
                    out.push(Item { var: t.var, key: Key::None, value: Val::Arena(*v), pf: NO_PF });
                }
            }
            Var::Tx => {
                if let Selector::Key(k) = &t.selector {
                    if let Some((ks, vs)) = self.tx.get(&self.arena, k.as_bytes()) {
                        if !excluded.hit(self, k.as_bytes()) {
                            out.push(Item { var: Var::Tx, key: Key::Arena(ks), value: Val::Arena(vs), pf: NO_PF });
                        }
                    }
                } else {
                    // the members that match, then in name order (as the map this replaced iterated)
                    let start = out.len();
                    let mut keep = |ks: Span, vs: Span| {
                        if !excluded.hit(self, self.get(ks)) {
                            out.push(Item { var: Var::Tx, key: Key::Arena(ks), value: Val::Arena(vs), pf: NO_PF });
                        }
                    };
                    // a `TX:/regex/` indexed at load asks the regex only of the keys set since (`tx_vars`)
                    let indexed = match &t.selector {
                        Selector::Regex(re) => self.tx.regex_members(&self.arena, re, &mut keep),
                        _ => false,
                    };
                    if !indexed {
                        for (ks, vs) in self.tx.iter() {
                            if t.selector.matches_key(self.get(ks)) {
                                keep(ks, vs);
                            }
                        }
                    }
                    let name = |it: &Item| match it.key {
                        Key::Arena(k) => self.get(k),
                        _ => b"",
                    };
                    out[start..].sort_unstable_by(|a, b| name(a).cmp(name(b)));
                }
            }
            Var::Env => self.map_members(Var::Env, self.env.iter(), t, excluded, out),
            Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource => {
                if let Some((_, _, rec)) = self.persistent.iter().find(|(v, _, _)| *v == t.var) {
                    self.map_members(t.var, rec.iter(), t, excluded, out);
                }
            }
            Var::MatchedVars | Var::MatchedVarsNames => {
                for (name, value) in &self.matched_vars[..self.matched_count.min(self.matched_vars.len())] {
                    if t.selector.matches_key(name.as_bytes()) && !excluded.hit(self, name.as_bytes()) {
                        let v = if t.var == Var::MatchedVars { value.clone() } else { name.clone().into_bytes() };
                        out.push(Item { var: t.var, key: Key::Owned(name.clone()), value: Val::Owned(v), pf: NO_PF });
                    }
                }
            }
            Var::Rule => {
                if let Some(rule) = self.current_rule_ref() {
                    let fields: [(&str, String); 4] = [
                        ("id", rule.id.to_string()),
                        ("phase", rule.phase.to_string()),
                        ("severity", rule.meta.severity.map(|s| s.to_string()).unwrap_or_default()),
                        (
                            "msg",
                            rule.meta
                                .msg
                                .as_ref()
                                .and_then(|m| m.as_static())
                                .map(|m| String::from_utf8_lossy(m).into_owned())
                                .unwrap_or_default(),
                        ),
                    ];
                    for (k, v) in fields {
                        if t.selector.matches_key(k.as_bytes()) {
                            out.push(Item {
                                var: Var::Rule,
                                key: Key::Owned(k.to_string()),
                                value: Val::Owned(v.into_bytes()),
                                pf: NO_PF,
                            });
                        }
                    }
                }
            }
            Var::Geo | Var::Webserver => {}
            other => {
                if let Some(v) = self.scalar(other) {
                    if t.count && self.val(&v).is_empty() {
                        return;
                    }
                    out.push(Item { var: other, key: Key::None, value: v, pf: NO_PF });
                }
            }
        }
    }

    pub(crate) fn current_rule_ref(&self) -> Option<&Rule> {
        let (_, p, i) = self.current_rule?;
        self.engine.rules.phases.get(p)?.get(i)
    }
}

fn time_var(var: Var) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = secs / 86400;
    let rem = secs % 86400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // civil-from-days (Howard Hinnant)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if mo <= 2 { 1 } else { 0 };
    let wday = (days + 4) % 7;
    match var {
        Var::TimeEpoch => secs.to_string(),
        Var::TimeYear => y.to_string(),
        Var::TimeMon => format!("{:02}", mo),
        Var::TimeDay => format!("{:02}", d),
        Var::TimeHour => format!("{h:02}"),
        Var::TimeMin => format!("{m:02}"),
        Var::TimeSec => format!("{s:02}"),
        Var::TimeWday => wday.to_string(),
        _ => format!("{y}{mo:02}{d:02}{h:02}{m:02}{s:02}"),
    }
}

impl MacroEnv for Transaction {
    fn lend_var(&self, var: Var, key: Option<&str>) -> Option<&[u8]> {
        match (var, key) {
            (Var::Tx, Some(k)) => Some(self.tx.get(&self.arena, k.as_bytes()).map(|(_, v)| self.get(v)).unwrap_or(b"")),
            (Var::MatchedVar, _) => Some(&self.matched_var),
            _ => None,
        }
    }

    fn lend_tx(&self, key: &str, hash: u64) -> Option<&[u8]> {
        Some(self.tx.get_hashed(&self.arena, hash, key.as_bytes()).map(|(_, v)| self.get(v)).unwrap_or(b""))
    }

    fn expand_tx(&self, key: &str, hash: u64, out: &mut Vec<u8>) {
        if let Some((_, v)) = self.tx.get_hashed(&self.arena, hash, key.as_bytes()) {
            out.extend_from_slice(self.get(v));
        }
    }

    fn with_var(&self, var: Var, key: Option<&str>, f: &mut dyn FnMut(&[u8])) {
        match self.lend_var(var, key) {
            Some(v) => f(v),
            None => {
                let mut v = Vec::new();
                self.expand_var(var, key, &mut v);
                f(&v)
            }
        }
    }

    fn expand_var(&self, var: Var, key: Option<&str>, out: &mut Vec<u8>) {
        // fast paths for the common ones
        if var == Var::Tx {
            if let Some(k) = key {
                if let Some((_, v)) = self.tx.get(&self.arena, k.as_bytes()) {
                    out.extend_from_slice(self.get(v));
                }
                return;
            }
        }
        if var == Var::MatchedVar {
            out.extend_from_slice(&self.matched_var);
            return;
        }
        // built only here: a `String` per expansion is what the fast paths above avoid
        let selector = match key {
            Some(k) => Selector::Key(k.to_string()),
            None => Selector::All,
        };
        let t = Target { var, selector, count: false, exclude: false };
        let mut items = Vec::new();
        self.members(&t, Excl(None), &mut items);
        if let Some(first) = items.first() {
            out.extend_from_slice(self.val(&first.value));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::Engine;
    use crate::fold::tests::info;
    use std::sync::Arc;

    /// `number` writes what `to_string` writes, from the table and past it, and keeps no heap room below 1,000.
    #[test]
    fn number_is_the_decimal_text() {
        for n in (0..2_000u64).chain([9_999, 10_000, 65_535, u64::from(u32::MAX), u64::MAX]) {
            let v = super::number(n);
            let bytes: &[u8] = match &v {
                super::Val::Static(b) => b,
                super::Val::Owned(o) => o,
                super::Val::Arena(_) => panic!("{n}: an arena value"),
            };
            assert_eq!(bytes, n.to_string().as_bytes(), "{n}");
            assert_eq!(matches!(v, super::Val::Static(_)), n < 1000, "{n}");
        }
    }

    /// The counts, flags and fixed scalars the rules read come out as before: a count of headers, a missing
    /// header's count, the body processor, a flag, `REMOTE_ADDR`, the body's length, the response status and
    /// a count as `MATCHED_VAR` (each matched exactly by `@streq`, so a stray digit or byte would fail it).
    #[test]
    fn counts_flags_and_scalars_read_as_text() {
        let rules = r#"
SecRule &REQUEST_HEADERS "@streq 3" "id:1,phase:1,pass,log,setvar:tx.a=1"
SecRule &REQUEST_HEADERS:X-None "@streq 0" "id:2,phase:1,pass,log,setvar:tx.b=1"
SecRule REQBODY_PROCESSOR "@streq URLENCODED" "id:3,phase:2,pass,log,setvar:tx.c=1"
SecRule REQBODY_ERROR "@streq 0" "id:4,phase:2,pass,log,setvar:tx.d=1"
SecRule REMOTE_ADDR "@streq 192.0.2.7" "id:5,phase:1,pass,log,setvar:tx.e=1"
SecRule REQUEST_BODY_LENGTH "@streq 13" "id:6,phase:2,pass,log,setvar:tx.f=1"
SecRule RESPONSE_STATUS "@streq 204" "id:7,phase:3,pass,log,setvar:tx.g=1"
SecRule &REQUEST_HEADERS "@eq 3" "id:8,phase:1,pass,log,setvar:tx.h=%{MATCHED_VAR}"
"#;
        let e =
            Arc::new(Engine::from_str(&format!("SecRuleEngine On\nSecRequestBodyAccess On\n{rules}"), "t").unwrap());
        let mut i = info();
        i.client_addr = "192.0.2.7".parse().unwrap();
        let mut tx = e.transaction(i);
        tx.request_line("POST", "/", "HTTP/1.1");
        tx.request_header(b"Host", b"h");
        tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
        tx.request_header(b"Content-Length", b"13");
        assert!(tx.process_request_headers().is_none());
        tx.append_request_body(b"a=bcdefghijkl").unwrap();
        assert!(tx.process_request_body().is_none());
        tx.response_status(204, "HTTP/1.1");
        tx.process_response_headers();
        for (k, want) in
            [("a", "1"), ("b", "1"), ("c", "1"), ("d", "1"), ("e", "1"), ("f", "1"), ("g", "1"), ("h", "3")]
        {
            assert_eq!(tx.tx_var(k).map(|v| String::from_utf8_lossy(v).into_owned()).as_deref(), Some(want), "tx.{k}");
        }
    }

    /// `push_lossy` renders every byte string as `String::from_utf8_lossy` does: ASCII, multi-byte UTF-8,
    /// and invalid sequences (replaced), after text already in the buffer.
    #[test]
    fn push_lossy_renders_as_from_utf8_lossy() {
        let cases: [&[u8]; 7] =
            [b"", b"user-agent", "caf\u{e9} \u{1f600}".as_bytes(), b"a\xffb", b"\xc3", b"\xe2\x82x", b"ok\x80\x80ok"];
        for b in cases {
            let mut out = String::from("x:");
            super::push_lossy(&mut out, b);
            assert_eq!(out, format!("x:{}", String::from_utf8_lossy(b)), "{b:?}");
        }
    }

    /// Rules sharing a target list borrow the phase's cached copy in turn (`collect_link_cached` lends it,
    /// `return_list` gives it back): every rule sees all the values, in order, whether the rule before it
    /// matched, ran actions, was ruled out early or read nothing, and a `ctl:ruleRemoveTargetById` rule still
    /// collects its own list.
    #[test]
    fn a_lent_list_comes_back_whole_for_the_next_rule() {
        let text = r#"
SecRuleEngine DetectionOnly
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^zz" "id:10,phase:2,pass,log"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^b" "id:11,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}',setvar:tx.n=+1"
SecRule ARGS_POST "@rx ." "id:12,phase:2,pass,log"
SecRule ARGS_POST "@rx ." "id:13,phase:2,pass,log"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^c" "id:14,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}',ctl:ruleRemoveTargetById=15;ARGS:q"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ." "id:15,phase:2,pass,log,msg:'%{MATCHED_VARS_NAMES}'"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ." "id:16,phase:2,pass,log,msg:'%{MATCHED_VARS_NAMES}'"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^a" "id:17,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}'"
"#;
        let engine = Arc::new(Engine::from_str(text, "t.conf").unwrap());
        for _ in 0..2 {
            let mut tx = engine.transaction(info());
            tx.request_line("GET", "/?p=a1&q=b2&r=c3", "HTTP/1.1");
            tx.request_header(b"X-A", b"a4");
            tx.process_request_headers();
            tx.process_request_body();
            let got: Vec<(u32, String)> = tx.matches().iter().map(|m| (m.id, m.msg.clone())).collect();
            let want = [(11, "ARGS:q"), (14, "ARGS:r"), (15, "ARGS:p"), (16, "ARGS:p"), (17, "REQUEST_HEADERS:X-A")];
            let want: Vec<(u32, String)> = want.iter().map(|(i, m)| (*i, m.to_string())).collect();
            assert_eq!(got, want);
            assert_eq!(tx.tx_var("n"), Some(&b"1"[..]));
        }
    }

    /// A shared list's entry outlives its phase and transaction with its room (`forget_lists`), but never its
    /// values: the same list text read in phase 1 and phase 2 (the same id) is collected again once the body
    /// added `ARGS_POST` members, and the next transactions (from the pool, with fewer, more or no arguments)
    /// see only their own values — the entry's stale values or a stale "collected, empty" answer would show
    /// here as a wrong or missing match.
    #[test]
    fn a_cached_list_is_collected_afresh_in_each_phase_and_transaction() {
        // each rule counts the values it matched (`setvar` runs per matching value) and logs the last one's name
        let text = r#"
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^v" "id:1,phase:1,pass,log,msg:'%{MATCHED_VAR_NAME}',setvar:tx.n1=+1"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^v" "id:2,phase:1,pass,log,msg:'%{MATCHED_VAR_NAME}',setvar:tx.n2=+1"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^v" "id:3,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}',setvar:tx.n3=+1"
SecRule ARGS|REQUEST_HEADERS:X-A "@rx ^v" "id:4,phase:2,pass,log,msg:'%{MATCHED_VAR_NAME}',setvar:tx.n4=+1"
"#;
        let engine = Arc::new(Engine::from_str(text, "t.conf").unwrap());
        let run = |uri: &str, header: Option<&[u8]>, body: &[u8]| {
            let mut tx = engine.transaction(info());
            tx.request_line("POST", uri, "HTTP/1.1");
            tx.request_header(b"Content-Type", b"application/x-www-form-urlencoded");
            if let Some(h) = header {
                tx.request_header(b"X-A", h);
            }
            tx.process_request_headers();
            if !body.is_empty() {
                tx.append_request_body(body).unwrap();
            }
            tx.process_request_body();
            tx.matches();
            let count = |id: u32| tx.tx_var(&format!("n{id}")).map(|v| String::from_utf8_lossy(v).into_owned());
            tx.matches[..]
                .iter()
                .map(|m| format!("{} {} {}", m.id, m.msg, count(m.id).unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let all = |last: &str, n: u32, ids: &[u32]| ids.iter().map(|i| format!("{i} {last} {n}")).collect::<Vec<_>>();
        for _ in 0..2 {
            let mut want = all("REQUEST_HEADERS:X-A", 3, &[1, 2]);
            want.extend(all("REQUEST_HEADERS:X-A", 4, &[3, 4]));
            assert_eq!(run("/?p=v1&q=v2&r=x", Some(b"v3"), b"b=v4&c=x"), want);
            // fewer values: nothing of the transaction before
            assert_eq!(run("/?r=v5", None, b""), all("ARGS:r", 1, &[1, 2, 3, 4]));
            // no value in phase 1 (the list is collected empty), one in phase 2
            assert_eq!(run("/", None, b"z=v6"), all("ARGS:z", 1, &[3, 4]));
            // none at all
            assert_eq!(run("/?a=x", Some(b"x"), b"b=x"), Vec::<String>::new());
        }
    }

    /// A phase's stamp that wraps round does not make an entry of an earlier phase fresh again: every entry
    /// is reset to "never collected" first (the mutant without the reset fails here).
    #[test]
    fn list_stamps_wrap_without_reviving_an_entry() {
        use super::{forget_lists, CachedList, ListCache};
        let mut c = ListCache::default();
        c.lists.resize_with(3, CachedList::default);
        assert!(c.fresh_mut(0).is_none(), "an entry never collected is stale");
        c.epoch = u32::MAX - 1;
        c.lists[1].epoch = u32::MAX - 1;
        c.lists[2].epoch = 1;
        assert!(c.fresh_mut(1).is_some());
        forget_lists(&mut c);
        assert!(c.fresh_mut(1).is_none());
        c.lists[1].epoch = u32::MAX;
        assert!(c.fresh_mut(1).is_some());
        forget_lists(&mut c);
        assert_eq!(c.epoch, 1);
        assert!(c.fresh_mut(1).is_none() && c.fresh_mut(2).is_none(), "no entry survives the wrap");
        assert!(c.fresh_mut(3).is_none());
    }

    /// `TargetRemovals` holds, for every id, what `HashMap<u32, Vec<Target>>` with `entry(id).or_default()
    /// .extend(targets)` held: random sequences of `ctl`s naming one, none or several targets over
    /// overlapping, unsorted id sets with repeats, compared id by id (the targets in order) with that
    /// reference. The mutants that skip the sort (a binary search in unsorted ids) or keep only the last
    /// `ctl`'s targets fail it.
    #[test]
    fn target_removals_hold_what_the_per_id_vectors_held() {
        use crate::variables::{Selector, Target, Var};
        use std::collections::HashMap;
        let target = |k: u64| Target {
            var: if k.is_multiple_of(2) { Var::RequestFilename } else { Var::Args },
            selector: if k.is_multiple_of(3) { Selector::All } else { Selector::Key(format!("k{k}")) },
            count: false,
            exclude: false,
        };
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..300 {
            let mut got = super::TargetRemovals::default();
            let mut want: HashMap<u32, Vec<Target>> = HashMap::new();
            for _ in 0..next(6) {
                let ids: Vec<u32> = (0..next(8)).map(|_| next(10) as u32).collect();
                let targets: Vec<Target> = (0..next(4)).map(|_| target(next(12))).collect();
                got.add(ids.iter().copied(), &targets);
                // a ctl naming an id twice removes its targets once (readers only ask "is it among them")
                let mut named = ids.clone();
                named.sort_unstable();
                named.dedup();
                for id in &named {
                    want.entry(*id).or_default().extend(targets.iter().cloned());
                }
            }
            assert_eq!(got.is_empty(), want.is_empty());
            for id in 0..10u32 {
                assert_eq!(got.contains_key(&id), want.contains_key(&id));
                assert_eq!(format!("{:?}", got.get(&id).as_deref()), format!("{:?}", want.get(&id).map(Vec::as_slice)));
            }
        }
    }
}
