//! SQL tokenizer: turns bytes into the tokens a SQL parser would see, covering the dialects attackers aim at
//! (MySQL, PostgreSQL, MSSQL, Oracle, SQLite). It never fails: bytes no dialect accepts become `Other` tokens,
//! and one pass over the input produces every token (linear time, no backtracking beyond a single lookahead).
//!
//! Owns: lexing only. Must not decide what is an attack (that is `analyze`).

use super::keywords::{keyword, Kw};

/// What a token is. Keywords are identifiers the lexer recognised (see `keywords`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A quoted string; `closed` is false when the input ends inside it.
    Str {
        quote: u8,
        closed: bool,
    },
    Num,
    Ident,
    Kw(Kw),
    /// `@x`, `@@version`, `:x`-style bind variables are not produced (they do not appear in injections).
    Var,
    Op(Op),
    LParen,
    RParen,
    Comma,
    Semi,
    Dot,
    /// `--`, `#` or `/* */`; `terminal` when it runs to the end of the input (`admin'--`, unclosed `/*`).
    Comment {
        terminal: bool,
    },
    /// A byte no SQL dialect gives meaning to (`\`, `{`, `[`...).
    Other,
}

/// Operators, grouped by what they do in an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`, `<>`, `!=`, `<`, `>`, `<=`, `>=`, `<=>`, `==`, `!<`, `!>`.
    Compare,
    /// `||` (OR in MySQL, concatenation elsewhere) and `&&`.
    Logic,
    /// `+ - * / % | & ^ << >>` and `||` used as concatenation is classified as `Logic` above.
    Arith,
    /// `!` and `~`.
    Unary,
    /// `::`, `:=`, `->`, `->>`, `?`, `:`.
    Misc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
}

impl Token {
    pub fn range(&self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Where the lexer starts: outside any literal, or inside a string the application opened with `quote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Bare,
    InString(u8),
}

/// Letters, digits, `_`, `$` and every byte ≥ 0x80: one table load per byte (the tokenizer asks it of
/// every byte of every word it reads).
pub(crate) fn is_ident_byte(b: u8) -> bool {
    IDENT[usize::from(b)]
}

/// [`is_ident_byte`] of every byte, built at compile time from its definition.
static IDENT: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        i += 1;
    }
    t
};

fn is_space(b: u8) -> bool {
    // MySQL also treats VT and FF as whitespace; NUL is removed by the WAF (t:removeNulls) but count it too.
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0)
}

/// Tokenizes `input` as SQL text that starts in `start`. Comments are kept as tokens (the analysis needs to
/// see truncation), whitespace is dropped.
pub fn tokenize(input: &[u8], start: Start) -> Vec<Token> {
    // At most one token per byte (plus the context string). Reserving that much never reallocates, and the
    // pages a short token stream does not touch are never faulted in, so the reserve costs nothing.
    let mut out = Vec::with_capacity(input.len() + 1);
    let mut i = 0usize;
    // Inside a MySQL versioned comment `/*!50000 ... */` the content is executed; its closing `*/` is skipped.
    let mut in_versioned = false;
    if let Start::InString(q) = start {
        // The application's opening quote is not in the input: the string starts at byte 0. Inside it only
        // a doubled quote escapes (standard SQL); a backslash does not, because the databases that honour
        // backslash escapes are exactly those where `\'` cannot break out anyway.
        let (end, closed) = scan_string(input, 0, q, false);
        out.push(tok(Kind::Str { quote: q, closed }, 0, end));
        i = end;
    }
    let n = input.len();
    while i < n {
        let b = input[i];
        if is_space(b) {
            i += 1;
            continue;
        }
        let s = i;
        let next = input.get(i + 1).copied();
        let kind = match b {
            b'\'' | b'"' => {
                let (end, closed) = scan_string(input, i + 1, b, true);
                i = end;
                Kind::Str { quote: b, closed }
            }
            b'`' => {
                let (end, _) = scan_string(input, i + 1, b'`', false);
                i = end;
                Kind::Ident
            }
            b'-' if next == Some(b'-') => {
                i = line_end(input, i);
                Kind::Comment { terminal: false }
            }
            b'#' => {
                i = line_end(input, i);
                Kind::Comment { terminal: false }
            }
            b'/' if next == Some(b'*') => {
                if input.get(i + 2) == Some(&b'!') {
                    // Versioned comment: MySQL runs what is inside; skip the marker and its version digits.
                    i += 3;
                    let mut d = 0;
                    while d < 6 && i < n && input[i].is_ascii_digit() {
                        i += 1;
                        d += 1;
                    }
                    in_versioned = true;
                    continue;
                }
                match find(input, i + 2, b"*/") {
                    Some(p) => {
                        i = p + 2;
                        Kind::Comment { terminal: false }
                    }
                    None => {
                        i = n;
                        Kind::Comment { terminal: true }
                    }
                }
            }
            b'*' if next == Some(b'/') && in_versioned => {
                in_versioned = false;
                i += 2;
                continue;
            }
            b'0'..=b'9' => {
                i = scan_number(input, i);
                if i < n && is_ident_byte(input[i]) {
                    // `2000s`, `1abc`: MySQL reads digits followed by letters as an identifier.
                    while i < n && is_ident_byte(input[i]) {
                        i += 1;
                    }
                    Kind::Ident
                } else {
                    Kind::Num
                }
            }
            b'.' if next.is_some_and(|c| c.is_ascii_digit()) => {
                i = scan_number(input, i);
                Kind::Num
            }
            b'@' => {
                i += 1;
                if input.get(i) == Some(&b'@') {
                    i += 1;
                }
                match input.get(i) {
                    Some(&q @ (b'\'' | b'"' | b'`')) => i = scan_string(input, i + 1, q, true).0,
                    _ => {
                        while i < n && (is_ident_byte(input[i]) || input[i] == b'.') {
                            i += 1;
                        }
                    }
                }
                Kind::Var
            }
            b'(' => {
                i += 1;
                Kind::LParen
            }
            b')' => {
                i += 1;
                Kind::RParen
            }
            b',' => {
                i += 1;
                Kind::Comma
            }
            b';' => {
                i += 1;
                Kind::Semi
            }
            b'.' => {
                i += 1;
                Kind::Dot
            }
            b'=' | b'<' | b'>' | b'!' | b'|' | b'&' | b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'~' | b':' | b'?' => {
                let (len, op) = operator(input, i);
                i += len;
                Kind::Op(op)
            }
            _ if is_ident_byte(b) => {
                while i < n && is_ident_byte(input[i]) {
                    i += 1;
                }
                match keyword(&input[s..i]) {
                    Some(k) => Kind::Kw(k),
                    None => Kind::Ident,
                }
            }
            _ => {
                i += 1;
                // A run of meaningless bytes is one token: `{{{{` says no more than `{`.
                if let Some(prev) = out.last_mut() {
                    if prev.kind == Kind::Other && prev.end as usize == s {
                        prev.end = tok(Kind::Other, s, i).end;
                        continue;
                    }
                }
                Kind::Other
            }
        };
        out.push(tok(kind, s, i));
    }
    if let Some(last) = out.last_mut() {
        if let Kind::Comment { .. } = last.kind {
            last.kind = Kind::Comment { terminal: true };
        }
    }
    out
}

fn tok(kind: Kind, start: usize, end: usize) -> Token {
    // Inputs are bounded by the WAF's body limits far below 4 GiB; saturate rather than wrap if not.
    let c = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Token { kind, start: c(start), end: c(end) }
}

/// Scans a quoted literal whose content starts at `from`; returns (end after the closing quote, closed).
fn scan_string(input: &[u8], from: usize, q: u8, backslash: bool) -> (usize, bool) {
    let mut i = from;
    while i < input.len() {
        let b = input[i];
        if backslash && b == b'\\' {
            i += 2;
            continue;
        }
        if b == q {
            if input.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return (i + 1, true);
        }
        i += 1;
    }
    (input.len(), false)
}

fn line_end(input: &[u8], from: usize) -> usize {
    input[from..].iter().position(|&b| b == b'\n').map_or(input.len(), |p| from + p)
}

fn find(input: &[u8], from: usize, needle: &[u8; 2]) -> Option<usize> {
    if from >= input.len() {
        return None;
    }
    input[from..].windows(2).position(|w| w == needle).map(|p| from + p)
}

fn scan_number(input: &[u8], from: usize) -> usize {
    let n = input.len();
    let mut i = from;
    if input[i] == b'0' && matches!(input.get(i + 1), Some(b'x' | b'X')) {
        let mut j = i + 2;
        while j < n && input[j].is_ascii_hexdigit() {
            j += 1;
        }
        if j > i + 2 {
            return j;
        }
    }
    if input[i] == b'0' && matches!(input.get(i + 1), Some(b'b' | b'B')) {
        let mut j = i + 2;
        while j < n && matches!(input[j], b'0' | b'1') {
            j += 1;
        }
        if j > i + 2 && !(j < n && is_ident_byte(input[j])) {
            return j;
        }
    }
    while i < n && input[i].is_ascii_digit() {
        i += 1;
    }
    if i < n && input[i] == b'.' {
        i += 1;
        while i < n && input[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < n && matches!(input[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < n && matches!(input[j], b'+' | b'-') {
            j += 1;
        }
        if j < n && input[j].is_ascii_digit() {
            while j < n && input[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}

fn operator(input: &[u8], i: usize) -> (usize, Op) {
    let a = input[i];
    let b = input.get(i + 1).copied().unwrap_or(0);
    let c = input.get(i + 2).copied().unwrap_or(0);
    match (a, b, c) {
        (b'<', b'=', b'>') => (3, Op::Compare),
        (b'-', b'>', b'>') => (3, Op::Misc),
        (b'<', b'>', _) | (b'!', b'=', _) | (b'<', b'=', _) | (b'>', b'=', _) | (b'=', b'=', _) => (2, Op::Compare),
        (b'!', b'<', _) | (b'!', b'>', _) => (2, Op::Compare),
        (b'|', b'|', _) | (b'&', b'&', _) => (2, Op::Logic),
        (b'<', b'<', _) | (b'>', b'>', _) => (2, Op::Arith),
        (b':', b':', _) | (b':', b'=', _) | (b'-', b'>', _) => (2, Op::Misc),
        (b'=' | b'<' | b'>', _, _) => (1, Op::Compare),
        (b'!' | b'~', _, _) => (1, Op::Unary),
        (b':' | b'?', _, _) => (1, Op::Misc),
        _ => (1, Op::Arith),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ident_table_is_its_definition() {
        for b in 0..=255u8 {
            assert_eq!(is_ident_byte(b), b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80, "{b}");
        }
    }

    fn kinds(s: &str, st: Start) -> Vec<Kind> {
        tokenize(s.as_bytes(), st).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn strings_escape_by_doubling_and_backslash() {
        let k = kinds(r"'it''s' 'a\'b' x", Start::Bare);
        assert_eq!(k[0], Kind::Str { quote: b'\'', closed: true });
        assert_eq!(k[1], Kind::Str { quote: b'\'', closed: true });
        assert_eq!(k[2], Kind::Ident);
        assert_eq!(k.len(), 3);
    }

    #[test]
    fn context_string_breaks_out_at_the_first_quote() {
        let k = kinds("x' or 1=1--", Start::InString(b'\''));
        assert_eq!(k[0], Kind::Str { quote: b'\'', closed: true });
        assert_eq!(k[1], Kind::Kw(Kw::Or));
        assert_eq!(k[2], Kind::Num);
        assert_eq!(k[3], Kind::Op(Op::Compare));
        assert_eq!(k.last(), Some(&Kind::Comment { terminal: true }));
    }

    #[test]
    fn numbers_hex_binary_float_and_number_like_identifiers() {
        assert_eq!(
            kinds("0x41 0b101 1.5e3 .5 2000s", Start::Bare),
            vec![Kind::Num, Kind::Num, Kind::Num, Kind::Num, Kind::Ident]
        );
    }

    #[test]
    fn versioned_comment_content_is_code() {
        let k = kinds("/*!50000UNION*/ /*!SELECT*/ 1", Start::Bare);
        assert_eq!(k, vec![Kind::Kw(Kw::Union), Kind::Kw(Kw::Select), Kind::Num]);
    }

    #[test]
    fn comments_and_variables() {
        let k = kinds("@@version @x /* c */ a # x\n b -- y", Start::Bare);
        assert_eq!(
            k,
            vec![
                Kind::Var,
                Kind::Var,
                Kind::Comment { terminal: false },
                Kind::Ident,
                Kind::Comment { terminal: false },
                Kind::Ident,
                Kind::Comment { terminal: true }
            ]
        );
    }
}
