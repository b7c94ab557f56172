//! Decides whether a token stream, read in one context, is SQL with an effect. The question is the one an
//! attacker needs answered: once this value is pasted into the application's query (after a number, inside a
//! quoted string), does it leave its slot and then do something — change a WHERE clause's truth, append a
//! UNION SELECT, stack another statement, call a function that sleeps, errors out with data, reads files or
//! hides keywords, or cut the rest of the query off with a comment?
//!
//! Prose fails that test in two places: it rarely leaves the slot in a way SQL accepts (after `O'` comes the
//! word `Reilly`, an alias at most, not an operator), and when it does it does nothing (`3 or 4 days` ends in
//! a bare word where SQL needs an operator or the end of the query).
//!
//! Owns: the decision and its reason. Must not lex (that is `token`).

use super::keywords::{function, FnEffect, Kw, Verb};
use super::token::{Kind, Op, Start, Token};

/// Lookahead bound for nested constructs (function arguments, parenthesised unions), so that adversarial
/// inputs such as `or f( or f( ...` stay linear.
const LOOKAHEAD: usize = 64;

/// Why a token stream is an injection and which tokens decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub reason: String,
    /// Index range into the significant tokens.
    pub first: usize,
    pub last: usize,
}

/// Drops comments that act as whitespace (`UNION/**/SELECT`) and keeps one that runs to the end of the input:
/// that one truncates the application's query and is part of the attack.
pub fn significant(mut tokens: Vec<Token>) -> Vec<Token> {
    let last = tokens.pop();
    tokens.retain(|t| !matches!(t.kind, Kind::Comment { .. }));
    tokens.extend(last);
    tokens
}

/// Analyses the significant tokens of `input` read in `start`.
pub fn analyze(sig: &[Token], input: &[u8], start: Start) -> Option<Hit> {
    let a = Analysis { sig, input, start };
    match start {
        Start::InString(q) => a.in_string(q),
        Start::Bare => a.bare(),
    }
}

/// What an operand in a condition is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operand {
    /// A number, string, NULL/TRUE/FALSE or variable: its value is known to the attacker.
    Literal,
    /// A column or other identifier.
    Column,
    /// A function call or subquery: the condition computes something.
    Computed,
}

struct Analysis<'a> {
    sig: &'a [Token],
    input: &'a [u8],
    start: Start,
}

impl Analysis<'_> {
    fn kind(&self, i: usize) -> Option<Kind> {
        self.sig.get(i).map(|t| t.kind)
    }

    fn text(&self, i: usize) -> &[u8] {
        self.sig.get(i).map_or(&[][..], |t| &self.input[t.range()])
    }

    fn kw(&self, i: usize, k: Kw) -> bool {
        self.kind(i) == Some(Kind::Kw(k))
    }

    /// The value was pasted inside a string quoted with `q`: it must close that string, then continue as SQL.
    fn in_string(&self, q: u8) -> Option<Hit> {
        let Some(Kind::Str { closed: true, .. }) = self.kind(0) else { return None };
        // A quote right after a space, with words before it, opens a quotation (`He said 'no' or ...`,
        // `x = "--flag"`); an attacker's quote closes the application's string right after the value
        // (`admin'--`, `1' OR`), or is the value's first byte.
        let before = &self.input[..self.sig[0].end as usize - 1];
        if before.last().is_some_and(|b| b.is_ascii_whitespace()) && before.iter().any(|b| !b.is_ascii_whitespace()) {
            return None;
        }
        let mut j = 1;
        while self.kind(j) == Some(Kind::RParen) {
            j += 1;
        }
        match self.kind(j)? {
            Kind::Comment { terminal: true } => {
                // `admin'--`, `admin')#`: the rest of the application's query is cut off. A value that is only
                // a quoted comment (`'#fff'`, `'/* glob */'`) has nothing to smuggle in, so the closed string
                // must carry content, and an unclosed `/*` must be empty (`admin'/*`), not a path glob.
                let prefix = &self.input[self.sig[0].range()];
                let body = self.text(j);
                let empty_block = body.starts_with(b"/*") && body[2..].iter().all(|b| b.is_ascii_whitespace());
                // `color: '#ff0000'`: a comment that holds the matching quote is a quoted word, not a cut.
                let quoted_word = body.contains(&q);
                if prefix.len() > 1 && !quoted_word && (!body.starts_with(b"/*") || empty_block) {
                    return Some(self.hit("comment truncates the query after a closed string", 0, j));
                }
                return None;
            }
            _ if !self.continues(j) => return None,
            _ => {}
        }
        if let Some(h) = self.effects(1, false) {
            return Some(h);
        }
        self.string_expression(q, j)
    }

    /// `'+sleep(5)+'`, `" | type x | "`: the value turns the string into an expression that evaluates
    /// identifiers or functions, and re-opens a string so that the application's closing quote still fits.
    fn string_expression(&self, q: u8, j: usize) -> Option<Hit> {
        let last = self.sig.len() - 1;
        let starts_with_operator = matches!(self.kind(j), Some(Kind::Op(Op::Arith | Op::Logic)));
        // `'+x+'`: the re-opening quote follows an operator, as the closing one was followed by one.
        // ...and re-opens an empty string, which the application's own quote closes.
        let empty = self.text(last).get(1..).is_some_and(|c| c.iter().all(|b| b.is_ascii_whitespace()));
        let reopens = self.kind(last) == Some(Kind::Str { quote: q, closed: false })
            && empty
            && last > j + 1
            && matches!(self.kind(last - 1), Some(Kind::Op(Op::Arith | Op::Logic)));
        let one_expression = !(j + 1..last).any(|i| matches!(self.kind(i), Some(Kind::Str { .. })));
        let evaluates = one_expression
            && (j + 1..last).any(|i| matches!(self.kind(i), Some(Kind::Ident | Kind::Var | Kind::Kw(Kw::Object))));
        if starts_with_operator && reopens && evaluates {
            return Some(self.hit("expression injected between two halves of a string", j, last));
        }
        // `1'||'`: the whole value closes the string, concatenates and re-opens an empty one: the probe that asks
        // whether the database evaluates what is sent (`'1'||''`). `||` between quotes has no reading in prose.
        let concat_probe = j == 1
            && last == 2
            && self.text(1) == b"||"
            && empty
            && self.kind(last) == Some(Kind::Str { quote: q, closed: false });
        if concat_probe {
            return Some(self.hit("string concatenation probe", j, last));
        }
        None
    }

    /// The value is pasted as a bare value (`WHERE id = <value>`): it must start as an operand, then continue.
    fn bare(&self) -> Option<Hit> {
        let (first, next) = self.operand(0)?;
        let strong_only = match first {
            Operand::Computed if next < self.sig.len() && !self.continues(next) => return None,
            Operand::Computed => {
                // The whole value is a call or subquery: only the ones with an effect of their own count
                // (`sleep(20)`, `(select load_file(...))`), not a value like `count(3)` or `(select one)`.
                if let Some(h) = self.effects(0, true) {
                    return Some(h);
                }
                false
            }
            Operand::Literal => false,
            // An identifier as a whole value (`ORDER BY <value>`) is also where words of prose start, so only
            // unmistakable effects count after it.
            Operand::Column => true,
        };
        // `price DESC, ...`: a sort direction after the column is where an ORDER BY value goes on.
        let sorted = first == Operand::Column
            && self.kind(next) == Some(Kind::Ident)
            && (self.text(next).eq_ignore_ascii_case(b"asc") || self.text(next).eq_ignore_ascii_case(b"desc"));
        let next = if sorted { next + 1 } else { next };
        if next >= self.sig.len() || !self.continues(next) {
            return None;
        }
        self.effects(next, strong_only)
    }

    /// Can token `j` follow a complete operand in SQL (operator, logic, clause keyword, `;`)?
    fn continues(&self, j: usize) -> bool {
        match self.kind(j) {
            // `::`, `->`, `?` and `:` are PostgreSQL casts, JSON paths and bind markers: never how an injection
            // goes on, but everywhere in code (`tokio::time::sleep(...)`).
            Some(Kind::Op(Op::Misc)) => false,
            Some(Kind::Op(_)) | Some(Kind::Semi) | Some(Kind::Comma) | Some(Kind::RParen) => true,
            Some(Kind::Comment { terminal: true }) => true,
            Some(Kind::Kw(k)) => matches!(
                k,
                Kw::Or
                    | Kw::And
                    | Kw::Xor
                    | Kw::Not
                    | Kw::Union
                    | Kw::Order
                    | Kw::Group
                    | Kw::Having
                    | Kw::Limit
                    | Kw::Into
                    | Kw::Procedure
                    | Kw::Like
                    | Kw::Is
                    | Kw::In
                    | Kw::Between
                    | Kw::Regexp
                    | Kw::Sounds
                    | Kw::Collate
                    | Kw::Waitfor
                    | Kw::From
                    | Kw::Where
            ),
            // `" sleep(10) "`: a call right after the closed string (MSSQL/MySQL accept several forms of this).
            Some(Kind::Ident) => {
                self.kind(j + 1) == Some(Kind::LParen)
                    && matches!(function(self.text(j)), Some(FnEffect::Time | FnEffect::Error | FnEffect::System))
            }
            _ => false,
        }
    }

    /// Scans from `from` for SQL that does something. `strong_only` keeps the effects prose cannot produce by
    /// accident (used when the value started with a bare word).
    fn effects(&self, from: usize, strong_only: bool) -> Option<Hit> {
        let n = self.sig.len();
        let mut i = from;
        while i < n {
            let k = self.sig[i].kind;
            match k {
                Kind::Kw(Kw::Union) => {
                    let mut j = i + 1;
                    while j < n.min(i + 8) && (self.kw(j, Kw::All) || self.kw(j, Kw::Distinct) || self.is_lparen(j)) {
                        j += 1;
                    }
                    if self.kw(j, Kw::Select) {
                        return Some(self.hit("UNION SELECT appends the attacker's rows", i, j));
                    }
                }
                Kind::Semi => {
                    if let Some((verb, end)) = self.stacked(i + 1) {
                        return Some(self.hit(&format!("stacked query: {verb}"), i, end));
                    }
                }
                Kind::Ident | Kind::Kw(_) if self.is_lparen(i + 1) && function(self.text(i)).is_some() => {
                    if let Some(eff) = function(self.text(i)) {
                        let strong = matches!(eff, FnEffect::Time | FnEffect::Error | FnEffect::System);
                        // `s.len()`, `it.position(...)`: a weak function reached through a dot is a method call.
                        let dotted = i > 0 && self.kind(i - 1) == Some(Kind::Dot);
                        // `suite::load_file(...)` is a path in code; SQL has no `::` before a call.
                        let pathed = i > 0 && self.kind(i - 1) == Some(Kind::Op(Op::Misc));
                        if !pathed && (strong || (!strong_only && !dotted)) {
                            let name = String::from_utf8_lossy(self.text(i)).to_ascii_lowercase();
                            return Some(self.hit(&format!("{} function {name}()", effect_name(eff)), i, i + 1));
                        }
                    }
                }
                Kind::LParen if self.kw(i + 1, Kw::Select) && self.select_list(i + 2) => {
                    return Some(self.hit("subquery", i, i + 1));
                }
                Kind::Var if self.text(i).starts_with(b"@@") && !strong_only => {
                    return Some(self.hit("server variable read", i, i));
                }
                Kind::Kw(Kw::Order | Kw::Group) if self.kw(i + 1, Kw::By) => {
                    if self.kind(i + 2) == Some(Kind::Num) {
                        return Some(self.hit("ORDER/GROUP BY column-count probing", i, i + 2));
                    }
                    let mut j = i + 2;
                    while j < n.min(i + LOOKAHEAD) && !self.kw(j, Kw::Having) {
                        j += 1;
                    }
                    if self.kw(j, Kw::Having) {
                        return Some(self.hit("GROUP BY ... HAVING probing", i, j));
                    }
                }
                Kind::Kw(Kw::Into) if self.kw(i + 1, Kw::Outfile) => {
                    return Some(self.hit("INTO OUTFILE writes a file", i, i + 1));
                }
                Kind::Kw(Kw::Waitfor) if self.kw(i + 1, Kw::Delay) || self.kw(i + 1, Kw::Time) => {
                    return Some(self.hit("WAITFOR time delay", i, i + 1));
                }
                Kind::Kw(Kw::Case) => {
                    let end = n.min(i + LOOKAHEAD);
                    if let Some(w) = (i + 1..end).find(|&j| self.kw(j, Kw::When)) {
                        if !strong_only {
                            return Some(self.hit("CASE WHEN conditional", i, w));
                        }
                    }
                }
                Kind::Kw(Kw::Or | Kw::And | Kw::Xor | Kw::Having) | Kind::Op(Op::Logic) => {
                    if let Some(h) = self.boolean(i, strong_only) {
                        return Some(h);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }

    /// `OR 1=1`, `AND 526=527`, `OR 'a'<>'b'`, `OR username LIKE '%adm%'`, `OR 1 --`: a logic operator
    /// followed by a condition whose outcome the attacker controls, ending where SQL allows.
    fn boolean(&self, at: usize, strong_only: bool) -> Option<Hit> {
        let (strength, end) = self.condition(at + 1)?;
        if !self.ends_expression(end) {
            return None;
        }
        let truncated = matches!(self.sig.last().map(|t| t.kind), Some(Kind::Comment { terminal: true }));
        let in_string = matches!(self.start, Start::InString(_));
        let lone_ok = |mut i: usize| {
            while matches!(self.kind(i), Some(Kind::Kw(Kw::Not) | Kind::Op(Op::Unary) | Kind::LParen)) {
                i += 1;
            }
            // A lone constant only works when the rest of the query is cut off (`' or 1--`), or, in a
            // string, when it re-opens the string with a true value for the application's quote to close
            // (`' or '1`). Without either it leaves a dangling quote, which is what prose does: `6' or 7'`.
            match self.kind(i) {
                _ if truncated => true,
                // `1 OR TRUE`: the SQL boolean literal after a number is a tautology with no prose reading
                // (`6 or 7` is a choice, `1 or true` is not).
                Some(Kind::Kw(Kw::True)) => at > 0 && matches!(self.kind(at - 1), Some(Kind::Num)),
                Some(Kind::Str { closed: false, .. }) if in_string => {
                    let content = self.text(i).get(1..).unwrap_or(&[]);
                    let text = std::str::from_utf8(content).unwrap_or("").trim();
                    text.parse::<f64>().is_ok_and(|v| v != 0.0) || text.eq_ignore_ascii_case("true")
                }
                _ => false,
            }
        };
        let reason = match strength {
            Cond::Tautology => "boolean condition on constants (tautology or contradiction)",
            Cond::Computed if !strong_only => "boolean condition on a computed value",
            Cond::ColumnTest if !strong_only && in_string => "boolean condition on a column after a closed string",
            Cond::Lone(i) if !strong_only && lone_ok(i) => "boolean operator with a constant operand",
            _ => return None,
        };
        Some(self.hit(reason, at, end.saturating_sub(1).max(at)))
    }

    /// Parses a condition from `i`; returns its strength and the index after it.
    fn condition(&self, i: usize) -> Option<(Cond, usize)> {
        let (left, next) = self.operand(i)?;
        let mut j = next;
        if self.kw(j, Kw::Not) {
            j += 1;
        }
        let compares = match self.kind(j) {
            Some(Kind::Op(Op::Compare)) => true,
            Some(Kind::Kw(Kw::Like | Kw::Regexp)) => true,
            Some(Kind::Kw(Kw::In)) if self.is_lparen(j + 1) => {
                // `IN (1,2)`: the list is literals or a subquery; skip it as one operand.
                let end = self.skip_parens(j + 1);
                let sub = self.kw(j + 2, Kw::Select);
                let c = match (left, sub) {
                    (Operand::Computed, _) | (_, true) => Cond::Computed,
                    (Operand::Literal, _) => Cond::Tautology,
                    _ => Cond::ColumnTest,
                };
                return Some((c, end));
            }
            Some(Kind::Kw(Kw::Sounds)) if self.kw(j + 1, Kw::Like) => {
                j += 1;
                true
            }
            Some(Kind::Kw(Kw::Is)) => {
                if self.kw(j + 1, Kw::Not) {
                    j += 1;
                }
                true
            }
            Some(Kind::Kw(Kw::Between)) => {
                let (_, after_low) = self.operand(j + 1)?;
                if !self.kw(after_low, Kw::And) {
                    return None;
                }
                j = after_low;
                true
            }
            _ => false,
        };
        if !compares {
            let c = match left {
                Operand::Literal => Cond::Lone(i),
                Operand::Computed => Cond::Computed,
                Operand::Column => Cond::Weak,
            };
            return Some((c, next));
        }
        let (right, end) = self.operand(j + 1)?;
        let c = match (left, right) {
            (Operand::Computed, _) | (_, Operand::Computed) => Cond::Computed,
            (Operand::Literal, Operand::Literal) => Cond::Tautology,
            (Operand::Column, Operand::Column) => Cond::Weak,
            _ => Cond::ColumnTest,
        };
        Some((c, end))
    }

    /// Parses one operand (with unary prefixes, parentheses, calls and arithmetic chains) from `i`.
    fn operand(&self, i: usize) -> Option<(Operand, usize)> {
        let n = self.sig.len();
        let mut j = i;
        let prefix = |j: usize| match self.kind(j) {
            Some(Kind::Op(Op::Unary) | Kind::Kw(Kw::Not)) => true,
            Some(Kind::Op(Op::Arith)) => matches!(self.text(j), b"-" | b"+"),
            _ => false,
        };
        while j < n.min(i + 8) && prefix(j) {
            j += 1;
        }
        let mut open = 0;
        while self.is_lparen(j) && !self.kw(j + 1, Kw::Select) && open < 8 {
            open += 1;
            j += 1;
        }
        let (mut what, mut next) = self.atom(j)?;
        // Arithmetic chains: `1+1`, `'a'||'b'`, `0x41-1`.
        let mut steps = 0;
        while steps < 16 && matches!(self.kind(next), Some(Kind::Op(Op::Arith))) {
            let Some((w, nx)) = self.atom(next + 1) else { break };
            what = combine(what, w);
            next = nx;
            steps += 1;
        }
        while open > 0 && self.kind(next) == Some(Kind::RParen) {
            open -= 1;
            next += 1;
        }
        Some((what, next))
    }

    fn atom(&self, j: usize) -> Option<(Operand, usize)> {
        match self.kind(j)? {
            Kind::Num | Kind::Str { .. } | Kind::Var => Some((Operand::Literal, j + 1)),
            Kind::Kw(Kw::Null | Kw::True | Kw::False) => Some((Operand::Literal, j + 1)),
            Kind::LParen if self.kw(j + 1, Kw::Select) => Some((Operand::Computed, self.skip_parens(j))),
            Kind::Ident | Kind::Kw(Kw::Object) if self.is_lparen(j + 1) => {
                // Calls the analysis knows compute something an attacker wants; `contains(x)` in a code
                // snippet is no more than a column would be.
                let what = if function(self.text(j)).is_some() { Operand::Computed } else { Operand::Column };
                Some((what, self.skip_parens(j + 1)))
            }
            Kind::Kw(Kw::Exists) if self.is_lparen(j + 1) => Some((Operand::Computed, self.skip_parens(j + 1))),
            Kind::Ident => {
                // Dotted names: `users.name`, `dbo.t.c`.
                let mut k = j + 1;
                while self.kind(k) == Some(Kind::Dot) && matches!(self.kind(k + 1), Some(Kind::Ident | Kind::Kw(_))) {
                    k += 2;
                }
                if self.is_lparen(k) {
                    // `CTXSYS.DRITHSX.SN(...)`: a call through a package or schema counts when a part of the
                    // name is one the analysis knows; `host.len()` is a method call in code, not SQL.
                    let known = (j..k).step_by(2).any(|p| function(self.text(p)).is_some());
                    let what = if k == j + 1 || known { Operand::Computed } else { Operand::Column };
                    return Some((what, self.skip_parens(k)));
                }
                Some((Operand::Column, k))
            }
            _ => None,
        }
    }

    /// From an opening parenthesis at `j`, the index after its match (bounded lookahead).
    fn skip_parens(&self, j: usize) -> usize {
        let mut depth = 0usize;
        let end = self.sig.len().min(j + LOOKAHEAD);
        for k in j..end {
            match self.sig[k].kind {
                Kind::LParen => depth += 1,
                Kind::RParen => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return k + 1;
                    }
                }
                _ => {}
            }
        }
        end
    }

    /// Can an expression end before token `e` (end of input, truncating comment, `;`, `)`, another clause)?
    fn ends_expression(&self, e: usize) -> bool {
        match self.kind(e) {
            None => true,
            Some(Kind::Comment { terminal: true }) | Some(Kind::Semi) | Some(Kind::RParen) => true,
            Some(Kind::Op(Op::Logic)) => true,
            Some(Kind::Kw(k)) => matches!(
                k,
                Kw::Or | Kw::And | Kw::Xor | Kw::Order | Kw::Group | Kw::Limit | Kw::Having | Kw::Union | Kw::Into
            ),
            // The application's closing quote re-closes a string the value left open at its end.
            Some(Kind::Str { closed: false, .. }) => e + 1 == self.sig.len(),
            _ => false,
        }
    }

    /// After a `;`: does a statement with its own grammar start at `i`? Returns its verb and last token.
    fn stacked(&self, i: usize) -> Option<(&'static str, usize)> {
        let k = self.kind(i)?;
        let nk = self.kind(i + 1);
        let is_ident = |x: Option<Kind>| matches!(x, Some(Kind::Ident));
        let found = match k {
            Kind::Kw(Kw::Verb(v)) => match v {
                Verb::Drop | Verb::Create | Verb::Alter | Verb::Rename | Verb::Backup => {
                    matches!(nk, Some(Kind::Kw(Kw::Object | Kw::Procedure)))
                }
                Verb::Truncate => matches!(nk, Some(Kind::Kw(Kw::Object))) || is_ident(nk),
                Verb::Insert => self.kw(i + 1, Kw::Into),
                Verb::Update => {
                    let (_, after) = self.atom(i + 1).unwrap_or((Operand::Literal, i + 1));
                    is_ident(nk) && self.kw(after, Kw::Set)
                }
                Verb::Delete => self.kw(i + 1, Kw::From) || (is_ident(nk) && self.kw(i + 2, Kw::From)),
                Verb::Exec => matches!(nk, Some(Kind::Ident | Kind::Var | Kind::LParen | Kind::Str { .. })),
                Verb::Shutdown => {
                    matches!(nk, None | Some(Kind::Semi | Kind::Comment { .. }))
                        || self.text(i + 1).eq_ignore_ascii_case(b"with")
                }
                Verb::Declare => matches!(nk, Some(Kind::Var)),
                Verb::Grant => is_ident(nk) || self.kw(i + 1, Kw::All),
                Verb::Call => is_ident(nk) && self.is_lparen(i + 2),
                Verb::Copy => {
                    is_ident(nk) && (self.kw(i + 2, Kw::From) || self.text(i + 2).eq_ignore_ascii_case(b"to"))
                }
                Verb::Load => self.text(i + 1).eq_ignore_ascii_case(b"data"),
            },
            Kind::Kw(Kw::Select) => self.select_list(i + 1),
            Kind::Kw(Kw::Set) => matches!(nk, Some(Kind::Var)),
            Kind::Kw(Kw::Waitfor) => self.kw(i + 1, Kw::Delay) || self.kw(i + 1, Kw::Time),
            _ => false,
        };
        found.then(|| (verb_name(self.text(i)), (i + 1).min(self.sig.len() - 1)))
    }

    /// Does what follows SELECT look like a select list (`1,2`, `*`, `@@version`, `name FROM`, `f(...)`)
    /// rather than a word of prose (`select all that apply`)?
    fn select_list(&self, i: usize) -> bool {
        match self.kind(i) {
            Some(Kind::Num | Kind::Var | Kind::Str { .. } | Kind::LParen) => true,
            Some(Kind::Kw(Kw::Null)) => true,
            // `(SELECT CASE WHEN ... THEN 1 ELSE 1/0 END ...)`: the blind-inference subquery.
            Some(Kind::Kw(Kw::Case)) => (i + 1..self.sig.len().min(i + LOOKAHEAD)).any(|j| self.kw(j, Kw::When)),
            Some(Kind::Op(Op::Arith)) => self.text(i) == b"*",
            Some(Kind::Ident | Kind::Kw(Kw::Object)) => {
                self.is_lparen(i + 1)
                    || matches!(self.kind(i + 1), Some(Kind::Comma))
                    || (i + 1..self.sig.len().min(i + 6)).any(|j| self.kw(j, Kw::From))
            }
            _ => false,
        }
    }

    fn is_lparen(&self, i: usize) -> bool {
        self.kind(i) == Some(Kind::LParen)
    }

    fn hit(&self, reason: &str, first: usize, last: usize) -> Hit {
        Hit { reason: reason.to_string(), first, last: last.min(self.sig.len().saturating_sub(1)) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cond {
    /// Constant compared with constant.
    Tautology,
    /// Involves a call or subquery.
    Computed,
    /// A column compared with a constant.
    ColumnTest,
    /// A single constant (its token index), e.g. `OR 1`.
    Lone(usize),
    /// Columns only, or a bare word: what prose looks like.
    Weak,
}

fn combine(a: Operand, b: Operand) -> Operand {
    match (a, b) {
        (Operand::Computed, _) | (_, Operand::Computed) => Operand::Computed,
        (Operand::Column, _) | (_, Operand::Column) => Operand::Column,
        _ => Operand::Literal,
    }
}

fn effect_name(e: FnEffect) -> &'static str {
    match e {
        FnEffect::Time => "time-delay",
        FnEffect::Error => "error-based",
        FnEffect::System => "file/system access",
        FnEffect::Obfuscation => "string-building",
        FnEffect::Info => "information",
        FnEffect::Conditional => "conditional",
    }
}

fn verb_name(word: &[u8]) -> &'static str {
    let mut buf = [0u8; 16];
    if word.len() > buf.len() {
        return "statement";
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_uppercase();
    }
    match &buf[..word.len()] {
        b"DROP" => "DROP",
        b"CREATE" => "CREATE",
        b"ALTER" => "ALTER",
        b"TRUNCATE" => "TRUNCATE",
        b"INSERT" | b"REPLACE" => "INSERT",
        b"UPDATE" => "UPDATE",
        b"DELETE" => "DELETE",
        b"EXEC" | b"EXECUTE" => "EXEC",
        b"SHUTDOWN" => "SHUTDOWN",
        b"DECLARE" => "DECLARE",
        b"SELECT" => "SELECT",
        b"SET" => "SET",
        b"WAITFOR" => "WAITFOR",
        _ => "statement",
    }
}

/// `/*/*/ 2 UNION ALL`: a block comment that opens another one inside is read differently by PostgreSQL
/// (comments nest) and MySQL (they do not), a known way to hide keywords from one parser; together with
/// statement keywords in the value it is an evasion, while a path glob such as `src/*/*/*.rs` has none.
pub fn nested_comment(tokens: &[Token], input: &[u8]) -> Option<Hit> {
    let nested = tokens.iter().position(|t| {
        let text = &input[t.range()];
        matches!(t.kind, Kind::Comment { .. }) && text.starts_with(b"/*") && text[2..].windows(2).any(|w| w == b"/*")
    })?;
    let keyword = tokens
        .iter()
        .position(|t| matches!(t.kind, Kind::Kw(Kw::Union | Kw::Select | Kw::Verb(_) | Kw::Waitfor | Kw::Having)))?;
    Some(Hit {
        reason: "nested block comment around SQL keywords (parser-differential evasion)".to_string(),
        first: nested.min(keyword),
        last: nested.max(keyword),
    })
}
