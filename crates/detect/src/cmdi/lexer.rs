//! A POSIX-shell (and cmd.exe caret) word splitter: quotes and escapes are removed, `$IFS` splits words,
//! unset variables and positional parameters expand to nothing, `${x:-word}` to its default, `$'\x63'`
//! ANSI-C strings are decoded and `{a,b}` brace lists become words, the way the shell would see them.
//! Operators (`;` `|` `||` `&&` `&` newline, `` ` ``, `$(`, `(`, `)`, redirections) come out as tokens.
//!
//! One pass, bounded look-ahead (a `${...}` closing brace is searched at most [`MAX_BRACE`] bytes away).

/// How far a `${...}` close brace is looked for before the `$` is taken literally.
const MAX_BRACE: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    Semi,
    Newline,
    Pipe,
    Or,
    And,
    Background,
}

impl Sep {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Sep::Semi => ";",
            Sep::Newline => "newline",
            Sep::Pipe => "|",
            Sep::Or => "||",
            Sep::And => "&&",
            Sep::Background => "&",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Word {
    /// The word after quote removal and expansion.
    pub text: Vec<u8>,
    pub start: usize,
    pub end: usize,
    /// Quotes, escapes, empty expansions or carets inside an otherwise literal word: `c'a't`, `w$@hoami`.
    pub obfuscated: bool,
    /// The word had quotes.
    pub quoted: bool,
    /// An expansion (`$x`, `${x}`) contributed to it.
    pub expanded: bool,
    /// A `$IFS` split the word from the previous one.
    pub ifs_before: bool,
    /// The word came out of a brace list `{cat,/etc/passwd}`.
    pub brace: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Tok {
    Word(Word),
    Sep(Sep),
    /// `$(`, `` ` `` opening, `<(`: a new command inside.
    SubstOpen(bool),
    /// `)` or closing `` ` ``.
    Close,
    /// `(` starting a subshell (not a function call).
    Open,
    /// `(` glued to the word before it: `print(`, `echo(` — a call in another language, not a shell command.
    Call,
    /// `>`, `>>`, `<`, `2>&1`...: the next word is a file, not an argument.
    Redirect,
}

pub(crate) struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    out: Vec<Tok>,
    cur: Option<Word>,
    in_backtick: bool,
    paren_depth: usize,
    /// Whether `|` is a plain character (markdown tables).
    pub pipes_are_text: bool,
    pending_ifs: bool,
}

pub(crate) fn lex(b: &[u8], pipes_are_text: bool) -> Vec<Tok> {
    let mut l = Lexer {
        b,
        i: 0,
        out: Vec::new(),
        cur: None,
        in_backtick: false,
        paren_depth: 0,
        pipes_are_text,
        pending_ifs: false,
    };
    l.run();
    l.out
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

impl Lexer<'_> {
    fn word(&mut self) -> &mut Word {
        let start = self.i;
        let ifs = std::mem::take(&mut self.pending_ifs);
        self.cur.get_or_insert_with(|| Word { start, ifs_before: ifs, ..Word::default() })
    }

    fn finish_word(&mut self) {
        if let Some(mut w) = self.cur.take() {
            w.end = self.i;
            if w.text.is_empty() && !w.quoted {
                // An all-empty expansion (`$@`, `${x}`) vanishes, as in the shell.
                return;
            }
            // Brace expansion `{cat,/etc/passwd}` → words.
            if !w.quoted && w.text.len() > 2 && w.text[0] == b'{' && w.text.ends_with(b"}") && w.text.contains(&b',') {
                let inner = w.text[1..w.text.len() - 1].to_vec();
                for part in inner.split(|&c| c == b',') {
                    self.out.push(Tok::Word(Word { text: part.to_vec(), brace: true, ..w.clone() }));
                }
                return;
            }
            self.out.push(Tok::Word(w));
        }
    }

    fn sep(&mut self, s: Sep, len: usize) {
        self.finish_word();
        self.out.push(Tok::Sep(s));
        self.i += len;
    }

    fn run(&mut self) {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            let next = self.b.get(self.i + 1).copied();
            match c {
                b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c' => {
                    self.finish_word();
                    self.i += 1;
                }
                b'\n' => self.sep(Sep::Newline, 1),
                b';' => self.sep(Sep::Semi, if next == Some(b';') { 2 } else { 1 }),
                b'|' if self.pipes_are_text => {
                    self.finish_word();
                    self.i += 1;
                }
                b'|' if next == Some(b'|') => self.sep(Sep::Or, 2),
                b'|' => self.sep(Sep::Pipe, if next == Some(b'&') { 2 } else { 1 }),
                b'&' if next == Some(b'&') => self.sep(Sep::And, 2),
                b'&' if next == Some(b'>') => {
                    self.finish_word();
                    self.out.push(Tok::Redirect);
                    self.i += 2;
                    if self.b.get(self.i) == Some(&b'>') {
                        self.i += 1;
                    }
                }
                b'&' if html_entity_len(&self.b[self.i..]) > 0 => {
                    // `&amp;`, `&#169;`: markup text, not a background job followed by `;`.
                    let n = html_entity_len(&self.b[self.i..]);
                    let text = &self.b[self.i..self.i + n];
                    self.word().text.extend_from_slice(text);
                    self.i += n;
                }
                b'&' => self.sep(Sep::Background, 1),
                b'>' | b'<' => self.redirect(c, next),
                b'`' if next == Some(b'`') && self.b.get(self.i + 2) == Some(&b'`') => {
                    // A markdown code fence (```bash): text, not nested substitutions; its info string (the
                    // language name) is not a command either.
                    self.finish_word();
                    while self.i < self.b.len() && self.b[self.i] == b'`' {
                        self.i += 1;
                    }
                    while self.i < self.b.len() && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'`' if next == Some(b'`') && !self.in_backtick => {
                    // Empty backticks glued into a word: `wh``oami`.
                    let w = self.word();
                    w.obfuscated = true;
                    self.i += 2;
                }
                b'`' => {
                    self.finish_word();
                    if self.in_backtick {
                        self.out.push(Tok::Close);
                    } else {
                        self.out.push(Tok::SubstOpen(true));
                    }
                    self.in_backtick = !self.in_backtick;
                    self.i += 1;
                }
                b'(' => {
                    // `name(` is a function call in the languages that share these bytes; a subshell `(`
                    // follows an operator, a space or the start.
                    if self.cur.is_some() {
                        self.finish_word();
                        self.out.push(Tok::Call);
                        self.i += 1;
                    } else {
                        self.out.push(Tok::Open);
                        self.paren_depth += 1;
                        self.i += 1;
                    }
                }
                b')' => {
                    self.finish_word();
                    if self.paren_depth > 0 {
                        self.paren_depth -= 1;
                        self.out.push(Tok::Close);
                    }
                    self.i += 1;
                }
                b'#' if self.cur.is_none() => {
                    // Comment to end of line.
                    self.finish_word();
                    while self.i < self.b.len() && self.b[self.i] != b'\n' {
                        self.i += 1;
                    }
                }
                b'\'' => self.single_quoted(),
                b'"' => self.double_quoted(),
                b'\\' => match next {
                    Some(b'\n') => self.i += 2,
                    Some(n) => {
                        let w = self.word();
                        w.text.push(n);
                        if n.is_ascii_alphanumeric() {
                            w.obfuscated = true;
                        }
                        self.i += 2;
                    }
                    None => {
                        self.word().text.push(b'\\');
                        self.i += 1;
                    }
                },
                b'^' if next.is_some_and(|n| n.is_ascii_alphanumeric()) && self.cur.is_some() => {
                    // cmd.exe caret escape inside a word: `w^h^o^a^m^i`.
                    let w = self.word();
                    w.obfuscated = true;
                    w.text.push(next.unwrap_or(b' '));
                    self.i += 2;
                }
                b'$' => self.dollar(false),
                _ => {
                    self.word().text.push(c);
                    self.i += 1;
                }
            }
        }
        self.finish_word();
    }

    fn redirect(&mut self, c: u8, next: Option<u8>) {
        // `2>`: the fd number is part of the operator.
        if self.cur.as_ref().is_some_and(|w| !w.text.is_empty() && w.text.iter().all(u8::is_ascii_digit) && !w.quoted) {
            self.cur = None;
        }
        self.finish_word();
        if next == Some(b'(') {
            // Process substitution `<(cmd)`.
            self.out.push(Tok::SubstOpen(false));
            self.paren_depth += 1;
            self.i += 2;
            return;
        }
        self.out.push(Tok::Redirect);
        self.i += 1;
        while self.i < self.b.len() && matches!(self.b[self.i], b'>' | b'<' | b'&' | b'|') && self.i < self.b.len() {
            if self.b[self.i] == c || self.b[self.i] == b'&' || self.b[self.i] == b'|' {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    fn single_quoted(&mut self) {
        let start = self.i + 1;
        let close = self.b[start..].iter().position(|&b| b == b'\'');
        let Some(close) = close else {
            // Unterminated: the rest is text (the shell would wait for more input).
            self.word().text.push(b'\'');
            self.i += 1;
            return;
        };
        let had_text = self.cur.as_ref().is_some_and(|w| !w.text.is_empty());
        let b = self.b;
        let s = &b[start..start + close];
        let glued = had_text || b.get(start + close + 1).is_some_and(|&n| is_ident(n));
        let w = self.word();
        w.quoted = true;
        w.text.extend_from_slice(s);
        if glued {
            w.obfuscated = true;
        }
        self.i = start + close + 1;
    }

    fn double_quoted(&mut self) {
        let had_text = self.cur.as_ref().is_some_and(|w| !w.text.is_empty());
        self.word().quoted = true;
        self.i += 1;
        while self.i < self.b.len() {
            let c = self.b[self.i];
            match c {
                b'"' => {
                    self.i += 1;
                    if had_text || self.b.get(self.i).is_some_and(|&n| is_ident(n)) {
                        self.word().obfuscated = true;
                    }
                    return;
                }
                b'\\' if matches!(self.b.get(self.i + 1), Some(b'$' | b'`' | b'"' | b'\\')) => {
                    let n = self.b[self.i + 1];
                    self.word().text.push(n);
                    self.i += 2;
                }
                b'$' => self.dollar(true),
                b'`' => {
                    // Substitution inside quotes still runs.
                    self.finish_word();
                    self.out.push(if self.in_backtick { Tok::Close } else { Tok::SubstOpen(true) });
                    self.in_backtick = !self.in_backtick;
                    self.i += 1;
                    return;
                }
                _ => {
                    self.word().text.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn dollar(&mut self, in_dquote: bool) {
        let b = self.b;
        let i = self.i;
        match b.get(i + 1).copied() {
            Some(b'(') if b.get(i + 2) == Some(&b'(') => {
                // Arithmetic `$((...))`: text, not a command.
                self.word().text.extend_from_slice(b"$((");
                self.i += 3;
            }
            Some(b'(') if b.get(i + 2) == Some(&b')') => {
                // `wh$()oami`: an empty substitution glued into a word.
                let w = self.word();
                w.obfuscated = true;
                w.expanded = true;
                self.i += 3;
            }
            Some(b'(') => {
                self.finish_word();
                self.out.push(Tok::SubstOpen(false));
                self.paren_depth += 1;
                self.i += 2;
            }
            Some(b'{') => {
                let body_start = i + 2;
                let limit = (body_start + MAX_BRACE).min(b.len());
                let Some(close) = b[body_start..limit].iter().position(|&c| c == b'}') else {
                    self.word().text.push(b'$');
                    self.i += 1;
                    return;
                };
                let body = &b[body_start..body_start + close];
                self.i = body_start + close + 1;
                if body == b"IFS" {
                    self.ifs();
                    return;
                }
                // `${x:-word}`, `${x-word}`, `${x:=word}`: unset x → word.
                let name_len = body.iter().take_while(|&&c| is_ident(c)).count();
                let rest = &body[name_len..];
                let default = rest
                    .strip_prefix(b":-")
                    .or_else(|| rest.strip_prefix(b":="))
                    .or_else(|| rest.strip_prefix(b"-"))
                    .or_else(|| rest.strip_prefix(b"="));
                let w = self.word();
                w.expanded = true;
                w.obfuscated = true;
                if let Some(d) = default {
                    w.text.extend(d.iter().filter(|&&c| c != b'\'' && c != b'"'));
                }
            }
            Some(b'\'') if !in_dquote => {
                // ANSI-C `$'\x63at'`.
                let start = i + 2;
                let Some(close) = b[start..].iter().position(|&c| c == b'\'') else {
                    self.word().text.push(b'$');
                    self.i += 1;
                    return;
                };
                let decoded = ansi_c(&b[start..start + close]);
                let w = self.word();
                w.text.extend_from_slice(&decoded);
                w.quoted = true;
                w.obfuscated = true;
                self.i = start + close + 1;
            }
            Some(c) if c.is_ascii_digit() || matches!(c, b'@' | b'*' | b'#' | b'?' | b'!' | b'-') => {
                let w = self.word();
                w.expanded = true;
                w.obfuscated = true;
                if c == b'0' {
                    // `$0` is the shell itself.
                    w.text.extend_from_slice(b"sh");
                }
                self.i += 2;
            }
            Some(c) if is_ident_start(c) => {
                let len = b[i + 1..].iter().take_while(|&&c| is_ident(c)).count();
                let name = &b[i + 1..i + 1 + len];
                self.i = i + 1 + len;
                if name == b"IFS" {
                    self.ifs();
                    return;
                }
                let w = self.word();
                w.expanded = true;
                w.obfuscated = !w.text.is_empty();
            }
            _ => {
                self.word().text.push(b'$');
                self.i += 1;
            }
        }
    }

    /// `$IFS` outside quotes splits words like a space; remember it for the next word.
    fn ifs(&mut self) {
        self.finish_word();
        self.pending_ifs = true;
        // `$IFS$9`: the trailing positional expands to nothing.
        if self.b.get(self.i) == Some(&b'$') && self.b.get(self.i + 1).is_some_and(u8::is_ascii_digit) {
            self.i += 2;
        }
    }
}

/// Length of an HTML character reference at the start of `s` (`&amp;`, `&#169;`, `&#x3c;`), or 0.
fn html_entity_len(s: &[u8]) -> usize {
    let body = &s[1..];
    let (digits, start) = match body.first() {
        Some(b'#') if matches!(body.get(1), Some(b'x' | b'X')) => (true, 2),
        Some(b'#') => (true, 1),
        _ => (false, 0),
    };
    let n = body[start..]
        .iter()
        .take(10)
        .take_while(|c| if digits { c.is_ascii_hexdigit() } else { c.is_ascii_alphanumeric() })
        .count();
    if n > 0 && n < 10 && body.get(start + n) == Some(&b';') {
        1 + start + n + 1
    } else {
        0
    }
}

/// Decodes the body of a `$'...'` string: `\xHH`, `\NNN` octal, `\n`, `\t`, `\\`, `\'`.
fn ansi_c(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\' && i + 1 < s.len() {
            let e = s[i + 1];
            if e == b'x' {
                let digits = s[i + 2..].iter().take(2).take_while(|c| c.is_ascii_hexdigit()).count();
                if digits > 0 {
                    if let Some(v) = crate::decode::hex_value(&s[i + 2..i + 2 + digits]) {
                        out.push(v as u8);
                        i += 2 + digits;
                        continue;
                    }
                }
            } else if (b'0'..=b'7').contains(&e) {
                let digits = s[i + 1..].iter().take(3).take_while(|c| (b'0'..=b'7').contains(c)).count();
                let v = s[i + 1..i + 1 + digits].iter().fold(0u32, |a, &c| a * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 1 + digits;
                continue;
            } else {
                out.push(match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    other => other,
                });
                i += 2;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}
