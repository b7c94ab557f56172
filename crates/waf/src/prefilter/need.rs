//! Necessary conditions of a static operand, computed once at load: a [`Need`] is a set of literals and a set
//! of bytes such that every value the operator can match contains (ASCII case-insensitively) at least one of
//! the literals or at least one of the bytes. The shared scan (`super::Prefilter::scan`) checks all of them in
//! one pass per value; an operator whose need is unmet is skipped without running.
//!
//! For a regex the need comes from a walk over its HIR (after ASCII case pairs are folded to lowercase
//! literals): a literal needs itself, a concatenation any one of its children's needs (the most selective), an
//! alternation the union of its branches' needs (none if a branch has none), a repetition with `min ≥ 1` its
//! sub's, `min = 0`, anchors and word boundaries nothing; a class needs its bytes (non-ASCII code points: the
//! leading bytes of their UTF-8 encodings). Literals of at least [`MIN_LITERAL`] bytes go into the shared
//! Aho-Corasick automaton; shorter ones are reduced to their rarest byte. For phrase operators (`@pm`,
//! `@contains`, `@streq`, ...) the phrases are the need. When the best need found is met by a common byte (a dot, a
//! slash, a letter), the literals that join the regex's leading parts (`joined_prefixes`: a short literal that is
//! a whole match of the parts so far is crossed with the next part's prefix literals) replace it if they are rarer:
//! CRS 930100 needs `/..`, `/.?`, `%2f`, … instead of the `.` of every host name.
//!
//! Exactness: each rule above only ever weakens a condition (a prefix or a byte of a necessary literal is
//! necessary; a union of necessary sets is necessary; a whole match of the first parts followed by a prefix of
//! the next part's match is a prefix of the concatenation's match), letters are folded on both sides, and anything not
//! understood gives no need at all, so a gate built on a need may only skip an operator that cannot match.
//! This module owns the analysis; it does not scan values.

use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{self, Class, Hir, HirKind};

/// Shortest literal worth a place in the automaton (shorter ones hit almost every value).
pub const MIN_LITERAL: usize = 3;
/// Longer literals are cut to this prefix (still necessary): it keeps the shared automaton bounded when long
/// phrase lists (`@pmFromFile`) join it. Ten bytes, not six: a six-byte cut of a phrase is often a plain word
/// of benign parameter names (CRS `lfi-os-files.data`'s `.password-store` cut to `.passw` is met by every
/// `json.password`, `.local/bin/` cut to `.local` by `json.client.locale`, `php-function-names`'
/// `method_exists` cut to `method` by `json.mfa.method`), and a phrase met by a benign name opens its rule's
/// gate on every such request. The per-byte cost of the scan does not depend on the cut (one DFA step); the
/// automaton has about three times the states (CRS: ≈ 17 k trie nodes for the phrase lists instead of 6 k).
pub const MAX_LITERAL: usize = 10;
/// Most literals one regex may contribute; a larger union is reduced to bytes.
const MAX_PER_PATTERN: usize = 300;
/// A class with more distinct (folded) bytes than this gives no need: it occurs in nearly every value.
const MAX_CLASS_BYTES: usize = 24;
/// HIR nesting beyond this gives no need (never reached by CRS; keeps the walk bounded).
const MAX_DEPTH: usize = 96;
/// A need this likely to hold on a benign value is not worth checking.
const USELESS: f64 = 1.0;
/// A need without common bytes (`Need::rare`: only literals and bytes rarer than letters) is kept up to this
/// score: checking it costs the shared scan nothing on a benign value's letters (no byte row to open), and it
/// still rules out the values without punctuation (CRS 932230/932235's shell separators and evasion bytes).
const USELESS_RARE: f64 = 2.0;
/// A byte at least this likely in a benign value (`byte_weight`: common punctuation, digits, letters) makes a
/// need weak enough to look for joined literals (`of_hir`).
const COMMON_BYTE: f64 = 0.2;
/// A need found by the plain walk scoring this or worse is looked for again without common bytes (`walk`).
const RARE_WALK: f64 = 1.0;

/// A set of bytes (ASCII letters stored lowercase).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug, Hash)]
pub struct ByteSet(pub [u64; 4]);

impl ByteSet {
    pub fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    pub fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1 << (b & 63)) != 0
    }
    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..=255u8).filter(|b| self.contains(*b))
    }
    fn union(&mut self, o: &ByteSet) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a |= b;
        }
    }
}

/// At least one of `lits` (lowercase, `MIN_LITERAL..=MAX_LITERAL` bytes, sorted) occurs in the value ASCII
/// case-insensitively, or at least one of `bytes` (folded) does. Never empty.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Need {
    pub lits: Vec<Vec<u8>>,
    pub bytes: ByteSet,
}

/// How often a byte shows up in benign request data (a rough guess; it only steers which necessary set is
/// chosen, never whether one is necessary).
fn byte_weight(b: u8) -> f64 {
    match b.to_ascii_lowercase() {
        b'a'..=b'z' | b'0'..=b'9' | b' ' => 0.3,
        b'-' | b'_' | b'.' | b'/' | b'=' | b',' | b':' | b';' | b'(' | b')' | b'*' | b'+' | b'&' | b'%' => 0.2,
        b'\'' | b'"' | b'?' | b'!' | b'@' | b'#' | b'~' | b'[' | b']' | b'|' | b'{' | b'}' | b'<' | b'>' | b'$'
        | b'`' | b'\\' | b'^' | b'\t' => 0.05,
        _ => 0.01,
    }
}

fn literal_weight(len: usize) -> f64 {
    match len {
        0..=3 => 0.02,
        4 => 0.008,
        5 => 0.003,
        _ => 0.001,
    }
}

/// The byte of `l` least likely to occur in a benign value (folded).
pub(crate) fn rarest_byte(l: &[u8]) -> Option<u8> {
    let mut best: Option<u8> = None;
    for b in l.iter().map(u8::to_ascii_lowercase) {
        if best.is_none_or(|x| byte_weight(b) < byte_weight(x)) {
            best = Some(b);
        }
    }
    best
}

impl Need {
    /// The need of one literal: itself (cut to `MAX_LITERAL`), or its rarest byte when shorter than
    /// `MIN_LITERAL`; none for the empty literal (it occurs everywhere).
    pub fn literal(l: &[u8]) -> Option<Need> {
        let mut n = Need::default();
        if l.len() >= MIN_LITERAL {
            n.lits.push(l[..l.len().min(MAX_LITERAL)].to_ascii_lowercase());
        } else {
            n.bytes.insert(rarest_byte(l)?);
        }
        Some(n)
    }

    /// The need of a phrase list (any phrase may match): the union of the phrases' needs; none if a phrase
    /// is empty or the list is.
    pub fn phrases<'a>(list: impl IntoIterator<Item = &'a [u8]>) -> Option<Need> {
        let mut acc: Option<Need> = None;
        for p in list {
            let n = Need::literal(p)?;
            acc = Some(match acc {
                None => n,
                Some(mut a) => {
                    a.union(n);
                    a
                }
            });
        }
        acc.map(Need::normalized).filter(|n| n.score() < USELESS)
    }

    fn bytes(b: ByteSet) -> Option<Need> {
        (!b.is_empty()).then_some(Need { lits: Vec::new(), bytes: b })
    }

    fn union(&mut self, o: Need) {
        self.lits.extend(o.lits);
        self.bytes.union(&o.bytes);
    }

    /// Normalized, with too many literals reduced to bytes.
    fn capped(self) -> Need {
        let n = self.normalized();
        if n.lits.len() > MAX_PER_PATTERN {
            n.literals_to_bytes()
        } else {
            n
        }
    }

    /// Worth checking (see `USELESS`, `USELESS_RARE`).
    fn useful(&self) -> bool {
        let s = self.score();
        s < USELESS || (s < USELESS_RARE && self.rare())
    }

    /// Holds no byte as common as a letter or a digit (see `walk`'s `rare`). The space counts as rare here
    /// (its weight stays a letter's, for scoring): a letter is what saturates a union of words, while a space
    /// is the separator that a list of command words often requires after every word (CRS 932250: each of its
    /// branches ends in `[\s\x0b&\),<>\|]`). That class, whitespace included, is then a need every branch
    /// shares; it rules out the values with no whitespace or separator: identifiers, numbers, tokens, names.
    fn rare(&self) -> bool {
        self.bytes.iter().all(|b| byte_weight(b) < 0.3 || b == b' ')
    }

    /// Sorts and dedups the literals and drops those that contain another one (the shorter one is then
    /// found wherever the longer one is).
    fn normalized(mut self) -> Need {
        self.lits.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
        self.lits.dedup();
        let mut kept: Vec<Vec<u8>> = Vec::with_capacity(self.lits.len());
        for l in self.lits {
            // a literal holding a needed byte is found wherever the byte is
            let has_byte = l.iter().any(|b| self.bytes.contains(*b));
            if !has_byte && !kept.iter().any(|k| memchr::memmem::find(&l, k).is_some()) {
                kept.push(l);
            }
        }
        kept.sort();
        self.lits = kept;
        self
    }

    /// Replaces the literals by one byte each (when a regex gives too many to be worth the automaton).
    fn literals_to_bytes(mut self) -> Need {
        for l in std::mem::take(&mut self.lits) {
            if let Some(b) = rarest_byte(&l) {
                self.bytes.insert(b);
            }
        }
        self
    }

    /// Rough chance that a benign value meets the need (lower is more selective).
    pub fn score(&self) -> f64 {
        self.score_by(|l| literal_weight(l.len()))
    }

    /// [`Self::score`] with each literal's weight scaled down by its bytes rarer than a letter (`/..` is rarer
    /// than `abc`).
    fn content_score(&self) -> f64 {
        let letter = byte_weight(b'a');
        self.score_by(|l| l.iter().fold(literal_weight(l.len()), |w, b| w * (byte_weight(*b) / letter).min(1.0)))
    }

    /// The literals' weights (`lit_weight`) and the bytes' weights, summed.
    fn score_by(&self, lit_weight: impl Fn(&[u8]) -> f64) -> f64 {
        self.lits.iter().map(|l| lit_weight(l)).sum::<f64>() + self.bytes.iter().map(byte_weight).sum::<f64>()
    }

    /// Does `v` meet the need? (The reference the scan must agree with; used by tests.)
    pub fn met_by(&self, v: &[u8]) -> bool {
        let lower = v.to_ascii_lowercase();
        lower.iter().any(|b| self.bytes.contains(*b))
            || self.lits.iter().any(|l| memchr::memmem::find(&lower, l).is_some())
    }
}

/// Keeps the more selective of two needs.
fn better(a: Option<Need>, b: Option<Need>) -> Option<Need> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (sa, sb) = (a.score(), b.score());
            Some(if sb < sa || (sb == sa && b.lits.len() < a.lits.len()) { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

/// The need of regex `pattern` as `crate::regex_util::compile_rx` compiled it (`unicode`: the mode it
/// succeeded in), or `None` when no useful condition is necessary.
pub fn of_regex(pattern: &str, unicode: bool) -> Option<Need> {
    let translated = crate::regex_util::translate_pcre(pattern);
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(unicode)
        .utf8(false)
        .dot_matches_new_line(true)
        .build()
        .parse(&translated)
        .ok()?;
    of_hir(&unroll_short_repetitions(&fold_case(&hir)))
}

/// Longest bounded repetition `x{m,n}` (`m < n`) that [`unroll_short_repetitions`] writes out.
const MAX_UNROLL: u32 = 4;

/// `h` with every bounded repetition `x{m,n}` (`1 ≤ m < n ≤ MAX_UNROLL`) written out as `m` copies of `x`
/// followed by `n − m` copies of `x?`: the same language (`k` copies for each `m ≤ k ≤ n`, each copy matching
/// on its own), so every need of the result is a need of `h`. Why: `regex_syntax`'s literal extractor stops at
/// a repetition whose count is not fixed (`x{2,3}` gives the inexact `xx`, and nothing that follows joins
/// it), while it crosses `x?` and what follows exactly: CRS 930110's `\.{2,3}[/;\x5c]` gives `../`, `..;`,
/// `..\` instead of the byte `.` (which every dotted parameter name holds).
fn unroll_short_repetitions(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Repetition(r) => {
            let sub = unroll_short_repetitions(&r.sub);
            match r.max {
                Some(max) if r.min >= 1 && r.min < max && max <= MAX_UNROLL => {
                    let optional = Hir::repetition(hir::Repetition {
                        min: 0,
                        max: Some(1),
                        greedy: r.greedy,
                        sub: Box::new(sub.clone()),
                    });
                    let mut parts = vec![sub; r.min as usize];
                    parts.extend(std::iter::repeat_n(optional, (max - r.min) as usize));
                    Hir::concat(parts)
                }
                _ => Hir::repetition(hir::Repetition { min: r.min, max: r.max, greedy: r.greedy, sub: Box::new(sub) }),
            }
        }
        HirKind::Concat(v) => Hir::concat(v.iter().map(unroll_short_repetitions).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(unroll_short_repetitions).collect()),
        HirKind::Capture(c) => Hir::capture(hir::Capture {
            index: c.index,
            name: c.name.clone(),
            sub: Box::new(unroll_short_repetitions(&c.sub)),
        }),
        _ => h.clone(),
    }
}

fn of_hir(hir: &Hir) -> Option<Need> {
    let mut memo = Memo::default();
    let mut best = walk(hir, 0, false, &mut memo);
    best = better(best, extracted(hir, ExtractKind::Prefix));
    best = better(best, extracted(hir, ExtractKind::Suffix));
    let mut best = best.map(Need::normalized).filter(Need::useful);
    // letters saturate unions: when the walk found nothing selective, look again without them
    if best.as_ref().is_none_or(|n| n.score() >= RARE_WALK) {
        best = better(best, walk(hir, 0, true, &mut memo).map(Need::normalized).filter(Need::useful));
    }
    // a need that a common byte meets (`.`, `/`, `=`, a letter) is met by most benign values: the literals that
    // span the regex's leading parts, when they are rarer, replace it
    let joined = best.as_ref().filter(|b| b.bytes.iter().any(|x| byte_weight(x) >= COMMON_BYTE)).and_then(|b| {
        joined_prefixes(hir)
            .map(Need::normalized)
            .filter(|j| j.bytes.is_empty() && j.content_score() < b.content_score())
    });
    joined.or(best)
}

/// Literals every match starts with, from the parts of a concatenation crossed one after the other, but only
/// where a literal is still shorter than [`MIN_LITERAL`] (`regex_syntax`'s extractor crosses all or nothing, and
/// gives up when the product grows past its limit: CRS 930100's leading slash alternatives times its dot
/// alternatives). `None` when `h` is no concatenation or a literal stays empty.
fn joined_prefixes(h: &Hir) -> Option<Need> {
    let parts = match h.kind() {
        HirKind::Concat(parts) => parts,
        HirKind::Capture(c) => return joined_prefixes(&c.sub),
        _ => return None,
    };
    // (literal, exact): an exact literal is the whole match of the parts crossed so far, any other a prefix of it
    let mut acc: Vec<(Vec<u8>, bool)> = vec![(Vec::new(), true)];
    for p in parts {
        if !acc.iter().any(|(l, exact)| *exact && l.len() < MIN_LITERAL) {
            break;
        }
        let seq = Extractor::new().kind(ExtractKind::Prefix).limit_total(MAX_PER_PATTERN).extract(p);
        // a part that may start with anything ends the literals where it starts
        let Some(lits) = seq.literals() else { break };
        let mut next = Vec::with_capacity(acc.len());
        for (l, exact) in acc {
            if exact && l.len() < MIN_LITERAL {
                for r in lits {
                    let mut x = l.clone();
                    x.extend_from_slice(r.as_bytes());
                    next.push((x, r.is_exact()));
                }
            } else {
                next.push((l, false));
            }
        }
        if next.len() > MAX_PER_PATTERN {
            return None;
        }
        acc = next;
    }
    let mut n = Need::default();
    for (l, _) in acc {
        n.union(Need::literal(&l)?);
    }
    Some(n)
}

/// The prefix literals of the suffixes of a concatenation, computed once per analysis: the plain walk and the
/// rare walk (`of_hir`) extract the same suffixes (`rare` only filters the result afterwards), and each
/// extraction clones the suffix's parts. A suffix is named by the concatenation's parts (their address, stable
/// while the analysed `Hir` is borrowed), which list (all parts, or those that cannot match empty:
/// `split_optional`) and where it starts: the same name is always the same `Hir`, so the stored result is the
/// one `extracted` would compute again.
#[derive(Default)]
struct Memo(std::collections::HashMap<(usize, bool, usize), Option<Need>>);

impl Memo {
    /// `extracted(concat(list[i..]), Prefix)`, where `list` is `parts` (`must_only` false) or its parts that
    /// cannot match empty (`must_only` true, `split_optional`'s `must`). The list is only built on a miss.
    fn suffix_prefixes(&mut self, parts: &[Hir], must_only: bool, i: usize) -> Option<Need> {
        self.0
            .entry((parts.as_ptr() as usize, must_only, i))
            .or_insert_with(|| {
                let list = parts.iter().filter(|p| !must_only || p.properties().minimum_len() != Some(0));
                extracted(&Hir::concat(list.skip(i).cloned().collect()), ExtractKind::Prefix)
            })
            .clone()
    }
}

/// Literals every match starts (`Prefix`) or ends (`Suffix`) with, from `regex_syntax`'s extractor: the
/// sequence as extracted, or as the extractor's own optimisation shortens it, whichever is more selective.
/// The optimisation is made for a regex engine's prefilter and cuts literals back to what they share
/// (CRS 932260's `hoami`, `hois` → `ho`): fewer, shorter literals, and so a weaker condition, which here can
/// turn a word list into its letters. Both sequences are necessary (the optimised one only shortens, merges or
/// gives up), so either choice is exact.
fn extracted(h: &Hir, kind: ExtractKind) -> Option<Need> {
    let seq = Extractor::new().kind(kind).limit_total(MAX_PER_PATTERN).extract(h);
    let mut optimized = seq.clone();
    optimized.optimize_for_prefix_by_preference();
    better(from_seq(&optimized), from_seq(&seq))
}

fn from_seq(seq: &Seq) -> Option<Need> {
    let lits = seq.literals()?;
    if lits.is_empty() || lits.len() > MAX_PER_PATTERN {
        return None;
    }
    let mut n = Need::default();
    for l in lits {
        // the empty literal is a prefix of everything: nothing is necessary
        n.union(Need::literal(l.as_bytes())?);
    }
    Some(n)
}

/// The necessary-factor walk (see the module docs). With `rare`, a byte as common as a letter or a digit
/// (`byte_weight` ≥ 0.3) is never taken as a need on its own: the walk then looks for literals and rarer
/// bytes, which survive unions that letters would saturate (an alternation of command names whose every branch
/// tolerates evasion characters between its letters: each branch's most selective single byte is a letter, and
/// the union of a hundred letters is no need at all).
fn walk(h: &Hir, depth: usize, rare: bool, memo: &mut Memo) -> Option<Need> {
    if depth > MAX_DEPTH {
        return None;
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(l) => Need::literal(&l.0).filter(|n| !rare || n.rare()),
        HirKind::Class(c) => class_bytes(c).and_then(Need::bytes).filter(|n| !rare || n.rare()),
        HirKind::Repetition(r) if r.min >= 1 => walk(&r.sub, depth + 1, rare, memo),
        HirKind::Repetition(_) => None,
        HirKind::Capture(c) => walk(&c.sub, depth + 1, rare, memo),
        HirKind::Alternation(alts) => {
            let mut acc = Need::default();
            for a in alts {
                acc.union(walk(a, depth + 1, rare, memo)?);
            }
            Some(acc.capped())
        }
        HirKind::Concat(parts) => {
            let mut best = None;
            let mut must = Vec::with_capacity(parts.len());
            let mut optional = Vec::new();
            for (i, p) in parts.iter().enumerate() {
                let n = walk(p, depth + 1, rare, memo);
                if p.properties().minimum_len() == Some(0) {
                    optional.push(p);
                } else {
                    must.push(n.clone());
                }
                best = better(best, n);
                // literals that span several parts (`(?:a|b)cd` → `acd`, `bcd`): every match contains a match
                // of each suffix `parts[i..]`, which starts with one of its prefix literals
                if i + 1 < parts.len() && !matches!(p.kind(), HirKind::Look(_)) {
                    let e = memo.suffix_prefixes(parts, false, i);
                    best = better(best, rare_only(e, rare));
                }
            }
            // parts that may match empty: a match either leaves all of them empty, and is then a match of the
            // other parts side by side (`b[\x22']*u\x5c?s` → `bus`), or holds a non-empty match of one of them
            // (one of `\x22`, `'`, `\`)
            if !optional.is_empty() && !must.is_empty() {
                best = better(best, split_optional(parts, must, &optional, depth, rare, memo));
            }
            best
        }
    }
}

/// The need of the concatenation `parts` from its parts that cannot match empty (side by side; `must` holds the
/// needs the walk found for each of them, in order) and those that can (`optional`): the former's need, or the
/// need of a non-empty match of one of the latter.
fn split_optional(
    parts: &[Hir],
    must: Vec<Option<Need>>,
    optional: &[&Hir],
    depth: usize,
    rare: bool,
    memo: &mut Memo,
) -> Option<Need> {
    let mut side_by_side = None;
    let count = must.len();
    for n in must {
        side_by_side = better(side_by_side, n);
    }
    // literals of neighbouring parts join (`b`, `u`, `s` → `bus`): the extractor sees them
    for i in 0..count.saturating_sub(1) {
        let e = memo.suffix_prefixes(parts, true, i);
        side_by_side = better(side_by_side, rare_only(e, rare));
    }
    let mut acc = side_by_side?;
    for o in optional {
        acc.union(nonempty(o, depth + 1, rare, memo)?);
    }
    Some(acc.capped())
}

/// A need of every non-empty match of `h`; the empty need (no literal, no byte: met by nothing) when `h`
/// only matches empty. Only ever joined to a non-empty need (`split_optional`), so it never stands alone.
fn nonempty(h: &Hir, depth: usize, rare: bool, memo: &mut Memo) -> Option<Need> {
    if depth > MAX_DEPTH {
        return None;
    }
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Some(Need::default()),
        HirKind::Repetition(r) if r.max == Some(0) => Some(Need::default()),
        // a non-empty match of a repetition has a non-empty match of its sub
        HirKind::Repetition(r) => nonempty(&r.sub, depth + 1, rare, memo),
        HirKind::Capture(c) => nonempty(&c.sub, depth + 1, rare, memo),
        HirKind::Alternation(alts) => {
            let mut acc = Need::default();
            for a in alts {
                acc.union(nonempty(a, depth + 1, rare, memo)?);
            }
            Some(acc.capped())
        }
        // a non-empty match of a concatenation that may match empty has a non-empty part
        HirKind::Concat(parts) if h.properties().minimum_len() == Some(0) => {
            let mut acc = Need::default();
            for p in parts {
                acc.union(nonempty(p, depth + 1, rare, memo)?);
            }
            Some(acc.capped())
        }
        _ => walk(h, depth + 1, rare, memo),
    }
}

/// `n` when it holds no byte as common as a letter (`rare` walks only), else `n`.
fn rare_only(n: Option<Need>, rare: bool) -> Option<Need> {
    n.filter(|n| !rare || n.rare())
}

/// The (folded) bytes one of which a match of class `c` contains, or `None` if there are too many.
fn class_bytes(c: &Class) -> Option<ByteSet> {
    let mut set = ByteSet::default();
    let add_ascii = |set: &mut ByteSet, a: u32, b: u32| -> Option<()> {
        for x in a..=b {
            set.insert((x as u8).to_ascii_lowercase());
            if set.len() > MAX_CLASS_BYTES {
                return None;
            }
        }
        Some(())
    };
    match c {
        Class::Bytes(b) => {
            for r in b.ranges() {
                add_ascii(&mut set, r.start() as u32, r.end() as u32)?;
            }
        }
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (s, e) = (r.start() as u32, r.end() as u32);
                if s <= 0x7f {
                    add_ascii(&mut set, s, e.min(0x7f))?;
                }
                // a non-ASCII code point matches as its UTF-8 encoding, whose leading byte is a
                // monotonic function of the code point
                if e >= 0x80 {
                    for lead in utf8_lead(s.max(0x80))..=utf8_lead(e) {
                        set.insert(lead);
                    }
                    if set.len() > MAX_CLASS_BYTES {
                        return None;
                    }
                }
            }
        }
    }
    Some(set)
}

/// The first byte of the UTF-8 encoding of a non-ASCII code point.
fn utf8_lead(c: u32) -> u8 {
    match c {
        0..=0x7ff => 0xc0 | (c >> 6) as u8,
        0x800..=0xffff => 0xe0 | (c >> 12) as u8,
        _ => 0xf0 | ((c >> 18) as u8 & 0x07),
    }
}

/// Replaces ASCII case-pair classes (`[Aa]`) by the lowercase literal, so literals survive `(?i)`. In Unicode
/// mode `(?i)k` and `(?i)s` also match U+212A and U+017F: those become an alternation with their UTF-8
/// encoding, so the condition stays necessary.
pub(crate) fn fold_case(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Class(c) => {
            let r: Vec<(u32, u32)> = match c {
                Class::Bytes(b) => b.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect(),
                Class::Unicode(u) => u.ranges().iter().map(|r| (r.start() as u32, r.end() as u32)).collect(),
            };
            match as_case_pair(&r) {
                Some((lower, extras)) if extras.is_empty() => Hir::literal(vec![lower]),
                Some((lower, extras)) => {
                    let mut alts = vec![Hir::literal(vec![lower])];
                    for x in extras {
                        let mut buf = [0u8; 4];
                        alts.push(Hir::literal(x.encode_utf8(&mut buf).as_bytes().to_vec()));
                    }
                    Hir::alternation(alts)
                }
                None => h.clone(),
            }
        }
        HirKind::Concat(v) => Hir::concat(v.iter().map(fold_case).collect()),
        HirKind::Alternation(v) => Hir::alternation(v.iter().map(fold_case).collect()),
        HirKind::Repetition(r) => Hir::repetition(hir::Repetition {
            min: r.min,
            max: r.max,
            greedy: r.greedy,
            sub: Box::new(fold_case(&r.sub)),
        }),
        HirKind::Capture(c) => {
            Hir::capture(hir::Capture { index: c.index, name: c.name.clone(), sub: Box::new(fold_case(&c.sub)) })
        }
        _ => h.clone(),
    }
}

/// `[Xx]` → (`x`, []); `[Kk\u{212A}]` → (`k`, [U+212A]). ASCII letters only.
fn as_case_pair(r: &[(u32, u32)]) -> Option<(u8, Vec<char>)> {
    let mut singles = Vec::with_capacity(r.len());
    for (a, b) in r {
        if a != b {
            return None;
        }
        singles.push(*a);
    }
    let lower: Vec<u32> = singles.iter().filter(|c| (b'a' as u32..=b'z' as u32).contains(c)).copied().collect();
    let upper: Vec<u32> = singles.iter().filter(|c| (b'A' as u32..=b'Z' as u32).contains(c)).copied().collect();
    if lower.len() != 1 || upper.len() != 1 || lower[0] != upper[0] + 32 {
        return None;
    }
    let mut extras = Vec::new();
    for c in &singles {
        if *c != lower[0] && *c != upper[0] {
            // only the two Unicode case variants of ASCII letters
            if *c != 0x17f && *c != 0x212a {
                return None;
            }
            extras.push(char::from_u32(*c)?);
        }
    }
    Some((lower[0] as u8, extras))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(p: &str) -> Option<Need> {
        of_regex(p, false)
    }

    fn parse(p: &str) -> Hir {
        regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(p).unwrap()
    }

    fn lits(n: &Need) -> Vec<&str> {
        n.lits.iter().map(|l| std::str::from_utf8(l).unwrap()).collect()
    }

    fn bytes(n: &Need) -> String {
        n.bytes.iter().map(char::from).collect()
    }

    #[test]
    fn literal_and_case_insensitive_literal() {
        assert_eq!(lits(&rx("select").unwrap()), ["select"]);
        assert_eq!(lits(&rx("(?i)SeLeCt").unwrap()), ["select"]);
        // cut to MAX_LITERAL, still necessary
        assert_eq!(lits(&rx("(?i)information_schema").unwrap()), ["informatio"]);
    }

    #[test]
    fn inner_literals_of_a_concatenation() {
        let n = rx(r"[0-9]+\s*select\b").unwrap();
        assert_eq!(lits(&n), ["select"]);
        // spanning parts: every match contains one of `acd`, `bcd`
        let n = rx(r"\d(?:a|b)cd").unwrap();
        assert!(n.met_by(b"1acd") && n.met_by(b"2bcd"), "{n:?}");
        assert!(!n.met_by(b"cd") && !n.met_by(b"abc"), "{n:?}");
    }

    #[test]
    fn alternation_is_the_union_and_a_bare_branch_kills_it() {
        let n = rx("(?:union|insert)").unwrap();
        assert_eq!(lits(&n), ["insert", "union"]);
        // a short branch contributes its rarest byte
        let n = rx("(?:union|<a)").unwrap();
        assert_eq!(lits(&n), ["union"]);
        assert_eq!(bytes(&n), "<");
        // an empty branch or an unbounded class branch: nothing is necessary
        assert!(rx("(?:union|)x?").is_none());
        assert!(rx("(?:abc|[0-9])").is_none());
        assert!(rx(r"(?:abc|\w)").is_none());
    }

    #[test]
    fn extracted_literals_are_not_cut_back_to_what_they_share() {
        // CRS 932260's word branches: the extractor gives `whoami`, `whois`, `wget`; its prefilter optimisation
        // cuts them back to `w`, a letter every benign word list holds
        let w = rx(r"(?i)w(?:get[\s\x0b&\),<>\|]|ho(?:ami|is[\s\x0b&\),<>\|]))").unwrap();
        assert_eq!(lits(&w), ["wget", "whoami", "whois"]);
        assert_eq!(bytes(&w), "");
        for m in ["WHOAMI", "whois ", "wget|"] {
            assert!(w.met_by(m.as_bytes()), "{m}");
        }
        let v = rx(r"(?i)vi(?:(?:gr|pw|rsh)[\s\x0b&\),<>\|]|sudo(?:-rs)?)").unwrap();
        assert_eq!(lits(&v), ["vigr", "vipw", "virsh", "visudo"]);
        for m in ["visudo", "VIRSH ", "vigr&"] {
            assert!(v.met_by(m.as_bytes()), "{m}");
        }
    }

    #[test]
    fn repetitions_need_their_sub_only_when_required() {
        assert_eq!(lits(&rx("(?:abc)+").unwrap()), ["abc"]);
        // the extractor sees that a match starts with two copies
        let n = rx("(?:abc){2,5}").unwrap();
        assert!(n.met_by(b"abcabc") && !n.met_by(b"abc"), "{n:?}");
        assert!(rx("(?:abc)*").is_none());
        assert!(rx("(?:abc)?").is_none());
        assert!(rx("x*").is_none());
        // `x*y` needs `y` (the concatenation takes the part that has a need)
        assert_eq!(bytes(&rx("x*;").unwrap()), ";");
    }

    #[test]
    fn classes_give_bytes_folded_and_large_ones_nothing() {
        assert_eq!(bytes(&rx("[<>]").unwrap()), "<>");
        assert_eq!(bytes(&rx("(?i)[<Q]").unwrap()), "<q");
        assert!(rx("[a-z]").is_none(), "too common");
        assert!(rx("[^<]").is_none());
        assert!(rx(".").is_none());
        // a byte class above ASCII (non-Unicode mode): the bytes themselves
        assert!(rx(r"[\x80-\x81]").unwrap().met_by(b"\x80"));
    }

    #[test]
    fn anchors_and_word_boundaries_need_nothing() {
        assert!(rx(r"^$").is_none());
        assert!(rx(r"\b").is_none());
        assert_eq!(lits(&rx(r"^\bjavascript:").unwrap()), ["javascript"]);
    }

    #[test]
    fn unicode_mode_keeps_the_other_case_variants() {
        // in Unicode mode (?i)k also matches U+212A KELVIN SIGN and (?i)s U+017F LONG S
        let n = of_regex("(?i)kill", true).unwrap();
        assert!(n.met_by("\u{212A}ill".as_bytes()), "{n:?}");
        let n = of_regex("(?i)sss", true).unwrap();
        assert!(n.met_by("\u{17F}\u{17F}\u{17F}".as_bytes()), "{n:?}");
        // a non-ASCII class needs the leading bytes of its encodings (`\\x{..}` above FF needs Unicode mode)
        let (re, unicode) = crate::regex_util::compile_rx_mode(r"[\x{20ac}\x{1F600}]").unwrap();
        assert!(unicode);
        let n = of_regex(r"[\x{20ac}\x{1F600}]", true).unwrap();
        for v in ["\u{20ac}", "x\u{1F600}"] {
            assert!(re.is_match(v.as_bytes()) && n.met_by(v.as_bytes()), "{v} {n:?}");
        }
        assert!(!n.met_by(b"plain") && !n.met_by("\u{e9}".as_bytes()));
        let re = regex::bytes::Regex::new("(?i)kill").unwrap();
        assert!(re.is_match("\u{212A}ILL".as_bytes()), "the case the fold must cover");
    }

    #[test]
    fn phrases() {
        let n = Need::phrases([&b"passwd"[..], b"xy", b"Shadow"]).unwrap();
        assert_eq!(lits(&n), ["passwd", "shadow"]);
        assert_eq!(bytes(&n), "x");
        // a literal holding a needed byte is dropped (`a` from `ab` is in both words)
        let n = Need::phrases([&b"passwd"[..], b"ab", b"Shadow"]).unwrap();
        assert!(n.lits.is_empty() && bytes(&n) == "a", "{n:?}");
        assert!(Need::phrases([&b"abc"[..], b""]).is_none(), "the empty phrase is everywhere");
        assert!(Need::phrases(std::iter::empty::<&[u8]>()).is_none());
        // a literal containing a needed byte, or another literal, is redundant
        let n = Need::phrases([&b"<"[..], b"<script", b"alert", b"alerted"]).unwrap();
        assert_eq!(lits(&n), ["alert"]);
        assert_eq!(bytes(&n), "<");
    }

    /// Phrases are cut to `MAX_LITERAL` bytes: CRS phrases whose six-byte prefix is a benign parameter name's
    /// word stay unmet by it, and the phrases themselves (with any case, anywhere in a value) still meet it.
    #[test]
    fn phrases_are_cut_past_the_benign_words_they_start_with() {
        let list: [&[u8]; 3] = [b".password-store", b".local/share/", b"method_exists"];
        let n = Need::phrases(list).unwrap();
        assert_eq!(lits(&n), [".local/sha", ".password-", "method_exi"]);
        for benign in [&b"json.password"[..], b"json.client.locale", b"json.mfa.method"] {
            assert!(!n.met_by(benign), "{:?}", String::from_utf8_lossy(benign));
        }
        // the cut prefix is what is needed: a value holding it meets the need
        assert!(n.met_by(b"a.Password-x"));
        for p in list {
            let mut v = b"/home/u/".to_vec();
            v.extend(p.to_ascii_uppercase());
            assert!(n.met_by(p) && n.met_by(&v), "{:?}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn optional_parts_are_either_empty_or_give_their_bytes() {
        // `b`, `u`, `s` side by side when every evasion part is empty, else one of the evasion bytes
        // (here the extractor's six spelled-out prefixes score better still; either is necessary)
        let n = rx(r"b[\x22']*u\x5c?s").unwrap();
        assert!(n.met_by(b"BUS") && n.met_by(b"b'u\\s") && !n.met_by(b"bu s") && !n.met_by(b"sub"), "{n:?}");
        let (b, u, s) = (Hir::literal(*b"b"), Hir::literal(*b"u"), Hir::literal(*b"s"));
        let parts = [b.clone(), u.clone(), s.clone()];
        let n = split_optional(
            &parts,
            vec![None, None, None],
            &[&fold_case(&parse(r"[\x22']*")), &parse(r"\x5c?")],
            0,
            false,
            &mut Memo::default(),
        )
        .unwrap();
        assert_eq!(lits(&n), ["bus"]);
        assert_eq!(bytes(&n), "\"'\\");
        // a part that only matches empty (`^`, `\b`) contributes nothing
        let abc = [Hir::literal(*b"abc")];
        let n = split_optional(
            &abc,
            vec![Need::literal(b"abc")],
            &[&parse(r"^"), &parse(r"\b")],
            0,
            false,
            &mut Memo::default(),
        )
        .unwrap();
        assert_eq!(lits(&n), ["abc"]);
        assert!(bytes(&n).is_empty());
    }

    #[test]
    fn evasion_tolerant_word_lists_keep_their_words() {
        // the plain walk takes one letter per branch (the union: letters, no need worth checking); the walk
        // without common bytes keeps each word and the evasion bytes its branches share
        let p = r"(?i)(?:b[\x22'\x5c]*u[\x22'\x5c]*s[\x22'\x5c]*y|c[\x22'\x5c]*a[\x22'\x5c]*t[\x22'\x5c]*s|[;\|])[\s\x0b]*[a-z]+";
        let n = rx(p).unwrap();
        assert_eq!(lits(&n), ["busy", "cats"]);
        assert_eq!(bytes(&n), "\"';\\|");
        let re = regex::bytes::Regex::new(p).unwrap();
        for v in [&b"BUSY x"[..], b"c'a\\ts x", b"; ls", b"|id"] {
            assert!(re.is_match(v) && n.met_by(v), "{:?}", String::from_utf8_lossy(v));
        }
        assert!(!n.met_by(b"hello world 42"));
    }

    /// A word list whose every branch must be followed by a separator class that holds whitespace (the
    /// shape of CRS 932250): the plain walk's union of one letter per word is useless, and so is the
    /// separator class by score; the walk without common bytes admits the space, so the class is the need.
    const SEPARATED_WORDS: &str = r"(?i)(?:^|;)(?:l[\x22'\x5c]*s|c[\x22'\x5c]*p|m[\x22'\x5c]*v|r[\x22'\x5c]*m|d[\x22'\x5c]*d|d[\x22'\x5c]*u|p[\x22'\x5c]*s)[\s\x0b&\),<>\|\}]";

    #[test]
    fn word_lists_followed_by_whitespace_need_their_separators() {
        let n = rx(SEPARATED_WORDS).unwrap();
        assert!(n.lits.is_empty());
        assert_eq!(bytes(&n), "\t\n\x0b\x0c\r &),<>|}");
        let re = regex::bytes::Regex::new(SEPARATED_WORDS).unwrap();
        for v in [&b"ls -la"[..], b"x;c'p\ty", b"MV)", b"d\\u|", b"ps}"] {
            assert!(re.is_match(v) && n.met_by(v), "{:?}", String::from_utf8_lossy(v));
        }
        for v in [&b"alice.example"[..], b"ls", b"json.mfa.code", b"4f6c0d2e"] {
            assert!(!n.met_by(v), "{:?}", String::from_utf8_lossy(v));
        }
    }

    proptest::proptest! {
        /// A match always meets the need, for patterns whose needs come from the optional-part split and the
        /// walk without common bytes: random bytes around the patterns' own words and evasion bytes.
        #[test]
        fn a_match_always_meets_the_split_need(
            pick in 0usize..5,
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "b", "u", "s", "y", "c", "a", "t", "'", "\"", "\\", "$", "|", "&", " ", ";", "x", "bus", "cat", "(", ")",
                "l", "p", "m", "v", "r", "d", "\t", "\n", "\x0b", ",", "<", ">", "}", "ls", "dd",
            ]), 0..12),
        ) {
            let pats = [
                r"b[\x22']*u\x5c?s",
                r"(?i)(?:b[\x22'\x5c]*u[\x22'\x5c]*s[\x22'\x5c]*y|c[\x22'\x5c]*a[\x22'\x5c]*t[\x22'\x5c]*s|[;\|])[\s\x0b]*[a-z]+",
                r"(?i)c[\x22'\)\x5c]*(?:(?:\|\||&&)?\$[a-z]*)?\x5c?a[\x22'\)\x5c]*(?:(?:\|\||&&)?\$[a-z]*)?\x5c?t(?:[\s&\)]|$)",
                r"(?:^|[;&\|])\s*(?:bu?s|c\x5c?a?t)\b",
                SEPARATED_WORDS,
            ];
            let v: Vec<u8> = parts.concat().into_bytes();
            let re = regex::bytes::Regex::new(pats[pick]).unwrap();
            if let Some(n) = rx(pats[pick]) {
                proptest::prop_assert!(!re.is_match(&v) || n.met_by(&v), "{} on {:?}: {:?}", pats[pick], String::from_utf8_lossy(&v), n);
            }
        }
    }

    #[test]
    fn short_bounded_repetitions_are_written_out() {
        // CRS 930110: `\.{2,3}` joins the class after it once written out as `..` and `.?`
        let p = r"(?:^|[/;\x5c])\.{2,3}[/;\x5c]";
        let n = rx(p).unwrap();
        assert_eq!(lits(&n), ["../", "..;", "..\\"]);
        assert!(bytes(&n).is_empty());
        let re = regex::bytes::Regex::new(p).unwrap();
        for v in [&b"../etc"[..], b"a/...;x", b"\\..\\", b"..;"] {
            assert!(re.is_match(v) && n.met_by(v), "{:?}", String::from_utf8_lossy(v));
        }
        for v in [&b"json.client.version"[..], b"3.14.2", b"a..b", b"./"] {
            assert!(!n.met_by(v), "{:?}", String::from_utf8_lossy(v));
        }
        // longer or unbounded counts are left as they are
        assert_eq!(unroll_short_repetitions(&parse("a{1,5}")), parse("a{1,5}"));
        assert_eq!(unroll_short_repetitions(&parse("a{2,}")), parse("a{2,}"));
    }

    /// Writing a repetition out keeps its language: the pattern and its rewrite (printed and compiled again)
    /// accept the same whole inputs, every sequence of up to seven of the pattern's own pieces.
    #[test]
    fn written_out_repetitions_match_the_same_inputs() {
        let cases: [(&str, &[&str]); 5] = [
            (r"a{1,3}b", &["a", "b", "x"]),
            (r"(?:ab|c){2,4}d", &["ab", "c", "d", "a"]),
            (r"x[.,]{1,2}?y", &["x", ".", ",", "y"]),
            (r"(?:\.|%2e){2,3}/", &[".", "%2e", "/"]),
            (r"(?:a{1,2}b){1,2}|c{3,4}", &["a", "b", "c"]),
        ];
        for (p, pieces) in cases {
            let h = parse(p);
            let unrolled = unroll_short_repetitions(&h);
            assert_ne!(unrolled, h, "{p}");
            let whole = |p: String| regex::bytes::Regex::new(&format!("^(?:{p})$")).unwrap();
            let (a, b) = (whole(h.to_string()), whole(unrolled.to_string()));
            let mut matched = 0;
            for v in &strings_over(pieces, 7) {
                assert_eq!(a.is_match(v), b.is_match(v), "{p} on {:?}", String::from_utf8_lossy(v));
                matched += a.is_match(v) as usize;
            }
            assert!(matched > 0, "{p}: no input matched");
        }
    }

    #[test]
    fn the_more_selective_part_is_chosen() {
        // `;` beats the 3-letter `abc`? No: a literal is rarer than a common punctuation byte
        let n = rx(r"abc[^x]*;").unwrap();
        assert_eq!(lits(&n), ["abc"]);
        // `<` beats a byte like `e`
        let n = rx(r"e[^x]*<").unwrap();
        assert_eq!(bytes(&n), "<");
    }

    /// Every string of 1 to `depth` pieces from `pieces`, shortest first.
    fn strings_over(pieces: &[&str], depth: usize) -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        let mut last: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..depth {
            last =
                last.iter().flat_map(|v| pieces.iter().map(move |x| [v.as_slice(), x.as_bytes()].concat())).collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    /// Every string over `pieces` of up to `depth` pieces that `pattern` matches (anywhere) meets `need`; returns
    /// how many matched (so a test can ask that some did).
    fn every_match_meets(pattern: &str, need: &Need, pieces: &[&str], depth: usize) -> usize {
        let re = regex::bytes::Regex::new(pattern).unwrap();
        let mut matched = 0;
        for v in strings_over(pieces, depth).iter().filter(|v| re.is_match(v)) {
            matched += 1;
            assert!(need.met_by(v), "{pattern}: {:?} matches but misses {need:?}", String::from_utf8_lossy(v));
        }
        matched
    }

    #[test]
    fn joined_literals_span_the_short_leading_parts() {
        // CRS 930100's shape: a slash (or an encoded one), two or three dots (or encoded ones), a slash. The walk
        // alone needs `.` or `?`, which every host name, version and query string holds
        let p = r"(?i)(?:[/\x5c]|%2f|0x5c)(?:\.|\?\.?|%2e){2,3}(?:[/\x5c]|%2f)";
        let n = rx(p).unwrap();
        assert_eq!(bytes(&n), "", "{n:?}");
        for l in ["/..", "/.?", "/?.", "/??", "\\..", "%2f", "0x5c", "/%2e"] {
            assert!(n.lits.iter().any(|x| x == l.as_bytes()), "{l} missing from {n:?}");
        }
        for benign in ["api.example.com", "/api/items?id=1&q=a.b", "anchor-bench/1.0 (wrk)", "3.14.2"] {
            assert!(!n.met_by(benign.as_bytes()), "{benign}");
        }
        for attack in ["/../etc/passwd", "a\\..\\b", "%2F%2e%2E/", "/??/"] {
            assert!(n.met_by(attack.as_bytes()), "{attack}");
        }
        let m = every_match_meets(p, &n, &["/", "\\", ".", "?", "%2f", "%2e", "0x5c", "a"], 5);
        assert!(m > 100, "{m}");
    }

    #[test]
    fn joined_literals_extend_only_whole_matches_of_a_part() {
        // `a[0-9]+` gives the prefixes `a0`…`a9`, not whole matches: `a0` then `b` would miss `a01b`, while the
        // whole match `c` is joined to what follows
        let p = r"(?:a[0-9]+|c)b";
        let n = joined_prefixes(&fold_case(&parse(p))).map(Need::normalized).unwrap();
        // `a0`…`a9` and `cb`, each shorter than a literal: their rarest bytes
        assert_eq!(bytes(&n), "ac", "{n:?}");
        assert!(n.met_by(b"a01b"), "{n:?}");
        assert!(every_match_meets(p, &n, &["a", "0", "1", "b", "c"], 5) > 0);
        // a part that may match empty joins nothing to what follows it, and one that matches anything ends the
        // literals where it starts
        for p in [r"/(?:x)?\.\.", r"/\.?\.\.", r"(?:/|\\)\w*\.\.", r"/(?:\.|)\.(?:%2e|\.)"] {
            let n = joined_prefixes(&fold_case(&parse(p))).map(Need::normalized).unwrap();
            let m = every_match_meets(p, &n, &["/", "\\", ".", "x", "%2e", "w"], 5);
            assert!(m > 0, "{p}");
        }
    }

    #[test]
    fn joined_literals_replace_only_needs_met_by_common_bytes() {
        // `#` is rare: the walk's need stays
        let n = rx(r"#!\s*/").unwrap();
        assert_eq!(bytes(&n), "#");
        assert!(n.lits.is_empty());
    }
}
