//! `multipart/form-data` bodies: fields into `ARGS_POST`, file parts into `FILES*`, part headers into
//! `MULTIPART_PART_HEADERS`, and the `MULTIPART_*` evasion flags.
//!
//! Follows ModSecurity v3's `request_body_processor/multipart.cc` (the reference for what each flag and
//! error means; error texts are its texts), with the Coraza differences chosen by [`Compat`]:
//! - The body is read line by line. A line `--BOUNDARY` (`--BOUNDARY--` for the last one) ending in CRLF or
//!   LF is a boundary; CRLF → `crlf`, LF → `MULTIPART_LF_LINE`; anything else after the boundary is the
//!   error `Invalid boundary` (Coraza mode first strips transport padding, spaces and tabs).
//! - A line starting with `--` that is not our boundary sets `MULTIPART_UNMATCHED_BOUNDARY`, so does
//!   `--BOUNDARY` anywhere inside another line; `--"BOUNDARY` (boundary was quoted) and `-- BOUNDARY` are errors.
//! - Part headers: one per line, `Name: value`; a line starting with whitespace continues the previous one
//!   (`MULTIPART_HEADER_FOLDING`, plus `MULTIPART_INVALID_HEADER_FOLDING` for whitespace other than SP/HTAB);
//!   a missing colon, an empty name, a NUL byte, a control character in the name (as newer engines do, see
//!   CRS test 922130), a duplicate header or a line longer than [`BodyLimits::max_part_header_bytes`] is
//!   an error. Header and boundary lines also feed the LF/CRLF flags.
//! - The blank line ends the headers; `Content-Disposition` must parse as ModSecurity parses
//!   it (`form-data; name="..."; filename="..."`, only those two parameters, single quotes accepted but
//!   flagged `MULTIPART_INVALID_QUOTING`, `\"` and `\\` unescaped in quoted values). A non-empty
//!   `filename` makes the part a file; otherwise its content becomes an argument. A part without
//!   `Content-Disposition` or without a `name` is an error for ModSecurity; Coraza (Go's `mime/multipart`)
//!   keeps it as the argument `""` (CRS test 922130-5 expects no error), which Coraza mode follows while
//!   setting `MULTIPART_INVALID_PART`.
//! - The content of a part is everything between its blank line and the line ending before the next
//!   boundary. A part whose headers never ended is skipped with `MULTIPART_INVALID_PART`.
//! - Bytes before the first boundary set `MULTIPART_DATA_BEFORE`; bytes after the last set
//!   `MULTIPART_DATA_AFTER` and are ignored. A body that stops without its final boundary is an error
//!   (`Final boundary missing`), but the part being read is still reported so rules can inspect it.
//!
//! `MULTIPART_PART_HEADERS` holds, for each part, its name → each whole header line (`Content-Type: x`,
//! folded continuations joined with a space), as Coraza and ModSecurity ≥ 3.0.8 expose them (CRS 922xxx
//! match `^content-type\s*:` against it). Errors are reported as `Multipart parsing error: Multipart: ...`
//! and always raise `MULTIPART_STRICT_ERROR`.

use std::borrow::Cow;

use aho_corasick::AhoCorasick;

use super::{push_arg, BodyLimits, Compat, FilePart, MultipartFlags, ParsedBody};

const PREFIX: &str = "Multipart parsing error: ";

/// Most headers one part may carry. ModSecurity has no such cap; ours keeps the per-part duplicate check
/// cheap and is far above what any client sends (two or three).
pub const MAX_PART_HEADERS: usize = 64;

/// A multipart boundary read from the request's Content-Type, with the flags its syntax raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Boundary<'a> {
    /// The boundary without quotes, borrowed from the Content-Type.
    pub value: &'a [u8],
    /// `boundary_quoted`, `boundary_whitespace` and `missing_semicolon` as the Content-Type set them.
    pub flags: MultipartFlags,
}

/// Why a Content-Type carries no usable boundary (`REQBODY_ERROR` and `MULTIPART_STRICT_ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BoundaryError {
    /// ModSecurity's message, e.g. `Multipart: Invalid boundary in C-T (characters).`
    pub message: &'static str,
    /// Flags raised before the error was found.
    pub flags: MultipartFlags,
}

/// Reads the boundary from a `multipart/form-data` Content-Type as ModSecurity v3 validates it.
///
/// Unlike ModSecurity, an unquoted boundary stops at `;` or whitespace (so parameters after it, such as
/// `; charset=utf-8`, are allowed), and whitespace after `=` is skipped (still flagged).
///
/// ```
/// use portcullis_waf::body::multipart_boundary;
/// let b = multipart_boundary(b"multipart/form-data; boundary=\"abc\"").unwrap();
/// assert_eq!(b.value, b"abc");
/// assert!(b.flags.boundary_quoted);
/// assert!(multipart_boundary(b"multipart/form-data; boundary=a{b").is_err());
/// ```
pub fn multipart_boundary(content_type: &[u8]) -> Result<Boundary<'_>, BoundaryError> {
    let mut flags = MultipartFlags::default();
    let fail = |message, flags| Err(BoundaryError { message, flags });
    let ct = content_type;
    if ct.len() > 1024 {
        return fail("Multipart: Invalid boundary in C-T (length).", flags);
    }
    const MIME: &[u8] = b"multipart/form-data";
    if ct.len() < MIME.len() || !ct[..MIME.len()].eq_ignore_ascii_case(MIME) {
        return fail("Multipart: Invalid MIME type.", flags);
    }
    if count_boundary_params(ct) > 1 {
        return fail("Multipart: Multiple boundary parameters in C-T.", flags);
    }
    let Some(at) = find(ct, b"boundary") else {
        let message = if count_boundary_params(ct) > 0 {
            "Multipart: Invalid boundary in C-T (case sensitivity)."
        } else {
            "Multipart: Boundary not found in C-T."
        };
        return fail(message, flags);
    };
    let mut seen_semicolon = false;
    for &c in ct.get(MIME.len()..at).unwrap_or_default() {
        if c == b';' && !seen_semicolon {
            seen_semicolon = true;
        } else if !is_space(c) {
            return fail("Multipart: Invalid boundary in C-T (malformed).", flags);
        }
    }
    flags.missing_semicolon = !seen_semicolon;
    let after_name = at + b"boundary".len();
    let Some(eq) = ct[after_name..].iter().position(|&c| c == b'=').map(|i| after_name + i) else {
        return fail("Multipart: Invalid boundary in C-T (malformed).", flags);
    };
    for &c in &ct[after_name..eq] {
        if is_space(c) {
            flags.boundary_whitespace = true;
        } else {
            return fail("Multipart: Invalid boundary in C-T (parameter name).", flags);
        }
    }
    let mut v = &ct[eq + 1..];
    if v.first().is_some_and(|&c| is_space(c)) {
        flags.boundary_whitespace = true;
        while v.first().is_some_and(|&c| is_space(c)) {
            v = &v[1..];
        }
    }
    let value = if v.first() == Some(&b'"') {
        let Some(close) = v[1..].iter().position(|&c| c == b'"') else {
            return fail("Multipart: Invalid boundary in C-T (quote).", flags);
        };
        flags.boundary_quoted = true;
        &v[1..1 + close]
    } else {
        let end = v.iter().position(|&c| c == b';').unwrap_or(v.len());
        let mut raw = &v[..end];
        while raw.last().is_some_and(|&c| is_space(c)) {
            raw = &raw[..raw.len() - 1];
            flags.boundary_whitespace = true;
        }
        if raw.last() == Some(&b'"') {
            return fail("Multipart: Invalid boundary in C-T (quote).", flags);
        }
        raw
    };
    if value.is_empty() {
        return fail("Multipart: Invalid boundary in C-T (empty).", flags);
    }
    if count_boundary_params(value) != 0 {
        return fail("Multipart: Invalid boundary in C-T (content).", flags);
    }
    let valid = value
        .iter()
        .enumerate()
        .all(|(i, &c)| c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c) || (c == b' ' && i + 1 < value.len()));
    if !valid {
        return fail("Multipart: Invalid boundary in C-T (characters).", flags);
    }
    Ok(Boundary { value, flags })
}

/// Parses a `multipart/form-data` body given the request's Content-Type header value.
pub fn parse_multipart<'a>(body: &'a [u8], content_type: &[u8], limits: &BodyLimits) -> ParsedBody<'a> {
    let mut out = ParsedBody::default();
    match multipart_boundary(content_type) {
        Err(e) => {
            out.multipart = e.flags;
            out.error = Some(format!("{PREFIX}{}", e.message));
        }
        Ok(b) => {
            out.multipart = b.flags;
            let mut parser = Parser::new(body, b.value, limits, &mut out);
            if let Err(message) = parser.run() {
                if parser.out.error.is_none() {
                    parser.out.error = Some(format!("{PREFIX}{message}"));
                }
            }
        }
    }
    let f = &mut out.multipart;
    f.crlf_lf_lines = f.crlf_lf_lines && f.lf_line; // `crlf_lf_lines` held "saw CRLF" until now
    f.strict_error = out.error.is_some()
        || (limits.compat == Compat::ModSecurity
            && (f.boundary_quoted
                || f.boundary_whitespace
                || f.data_before
                || f.data_after
                || f.header_folding
                || f.lf_line
                || f.missing_semicolon
                || f.invalid_quoting
                || f.invalid_part
                || f.invalid_header_folding
                || f.file_limit_exceeded));
    out
}

#[derive(PartialEq, Eq)]
enum State {
    Preamble,
    Headers,
    Data,
    Epilogue,
}

/// One header of the part being read.
struct Header<'a> {
    name: &'a [u8],
    value: Cow<'a, [u8]>,
    line: Cow<'a, [u8]>,
}

#[derive(Default)]
struct Part<'a> {
    headers: Vec<Header<'a>>,
    name: Option<Cow<'a, [u8]>>,
    filename: Option<Cow<'a, [u8]>>,
    data_start: usize,
}

struct Parser<'a, 'b, 'o, 'l> {
    body: &'a [u8],
    boundary: &'b [u8],
    limits: &'l BodyLimits,
    out: &'o mut ParsedBody<'a>,
    state: State,
    part: Part<'a>,
    boundaries_seen: usize,
    /// Finds `--BOUNDARY` inside lines; built on first need.
    finder: Option<Option<AhoCorasick>>,
}

type Step = Result<(), String>;

impl<'a, 'b, 'o, 'l> Parser<'a, 'b, 'o, 'l> {
    fn new(body: &'a [u8], boundary: &'b [u8], limits: &'l BodyLimits, out: &'o mut ParsedBody<'a>) -> Self {
        Self {
            body,
            boundary,
            limits,
            out,
            state: State::Preamble,
            part: Part::default(),
            boundaries_seen: 0,
            finder: None,
        }
    }

    fn run(&mut self) -> Step {
        let body = self.body;
        let mut pos = 0;
        while pos < body.len() {
            let end = body[pos..].iter().position(|&c| c == b'\n').map_or(body.len(), |i| pos + i + 1);
            let line = &body[pos..end];
            if self.boundary_line(line, pos, end)? {
                if self.state == State::Epilogue {
                    if end < body.len() {
                        self.out.multipart.data_after = true;
                    }
                    return Ok(());
                }
            } else {
                match self.state {
                    State::Preamble => self.out.multipart.data_before = true,
                    State::Headers => self.header_line(line, end)?,
                    State::Data | State::Epilogue => {}
                }
            }
            pos = end;
        }
        if body.is_empty() {
            return Ok(());
        }
        if self.boundaries_seen == 0 {
            return Err("Multipart: No boundaries found in payload.".into());
        }
        // Report what was read of the unterminated part, then fail.
        self.finish_part(body.len(), false)?;
        Err("Multipart: Final boundary missing.".into())
    }

    /// Handles `line` if it is a boundary (returns `true`) or checks it for boundary look-alikes.
    fn boundary_line(&mut self, line: &'a [u8], start: usize, end: usize) -> Result<bool, String> {
        let b = self.boundary;
        let compat = self.limits.compat;
        if line.len() > 3 && line.starts_with(b"--") {
            if line[2..].starts_with(b) {
                let mut rest = &line[2 + b.len()..];
                let is_final = rest.starts_with(b"--");
                if is_final {
                    rest = &rest[2..];
                }
                if compat == Compat::Coraza {
                    while rest.first().is_some_and(|&c| c == b' ' || c == b'\t') {
                        rest = &rest[1..];
                    }
                }
                let at_eof = end == self.body.len();
                match rest {
                    b"\r\n" => self.out.multipart.crlf_lf_lines = true,
                    b"\n" => self.out.multipart.lf_line = true,
                    b"" if at_eof && is_final => {}
                    b"" if at_eof => return Ok(false), // an unterminated last line: final boundary missing
                    _ => return Err(format!("Multipart: Invalid boundary: {}", String::from_utf8_lossy(chomp(line)))),
                }
                if compat == Compat::ModSecurity && self.boundaries_seen > 0 {
                    self.out.multipart.unmatched_boundary = 2;
                }
                self.finish_part(start, true)?;
                self.boundaries_seen += 1;
                if is_final {
                    self.state = State::Epilogue;
                } else {
                    self.state = State::Headers;
                    self.part = Part::default();
                }
                return Ok(true);
            }
            if self.out.multipart.boundary_quoted && line[2] == b'"' && line[3..].starts_with(b) {
                return Err("Multipart: Invalid boundary (quotes).".into());
            }
            let ws = line[2..].iter().take_while(|&&c| is_space(c)).count();
            if ws > 0 && line[2 + ws..].starts_with(b) {
                return Err("Multipart: Invalid boundary (whitespace).".into());
            }
            self.out.multipart.unmatched_boundary = 1;
        } else if self.contains_dash_boundary(line) {
            self.out.multipart.unmatched_boundary = 1;
        }
        Ok(false)
    }

    fn contains_dash_boundary(&mut self, line: &[u8]) -> bool {
        if !line.windows(2).any(|w| w == b"--") {
            return false;
        }
        let b = self.boundary;
        let finder = self.finder.get_or_insert_with(|| {
            let mut needle = Vec::with_capacity(b.len() + 2);
            needle.extend_from_slice(b"--");
            needle.extend_from_slice(b);
            AhoCorasick::new([needle]).ok()
        });
        finder.as_ref().is_some_and(|f| f.is_match(line))
    }

    fn header_line(&mut self, line: &'a [u8], end: usize) -> Step {
        let max = self.limits.max_part_header_bytes;
        if line.len() > max {
            return Err(format!("Multipart: Part header line over {max} bytes long"));
        }
        if line.contains(&0) {
            return Err("Multipart: Nul byte in part headers.".into());
        }
        if line.ends_with(b"\r\n") {
            self.out.multipart.crlf_lf_lines = true;
        } else {
            self.out.multipart.lf_line = true;
        }
        let content = chomp(line);
        if content.is_empty() {
            return self.end_of_headers(end);
        }
        if is_space(content[0]) {
            self.out.multipart.header_folding = true;
            let ws = content.iter().take_while(|&&c| is_space(c)).count();
            if content[..ws].iter().any(|&c| c != b' ' && c != b'\t') {
                self.out.multipart.invalid_header_folding = true;
            }
            let Some(last) = self.part.headers.last_mut() else {
                return Err("Multipart: Invalid part header (folding error).".into());
            };
            let more = &content[ws..];
            let mut value = std::mem::take(&mut last.value).into_owned();
            value.push(b' ');
            value.extend_from_slice(more);
            let mut whole = std::mem::take(&mut last.line).into_owned();
            whole.push(b' ');
            whole.extend_from_slice(more);
            last.value = Cow::Owned(value);
            last.line = Cow::Owned(whole);
            if last.line.len() > max {
                return Err("Multipart: Part header too long.".into());
            }
            return Ok(());
        }
        let Some(colon) = content.iter().position(|&c| c == b':') else {
            return Err(format!(
                "Multipart: Invalid part header (colon missing): {}",
                String::from_utf8_lossy(content)
            ));
        };
        if colon == 0 {
            return Err("Multipart: Invalid part header (header name missing).".into());
        }
        let name = &content[..colon];
        if name.iter().any(|c| !(0x20..0x7f).contains(c)) {
            return Err("Multipart: Invalid part header (contains invalid character).".into());
        }
        if self.part.headers.len() >= MAX_PART_HEADERS {
            return Err(format!("Multipart: Too many part headers (more than {MAX_PART_HEADERS})."));
        }
        if self.part.headers.iter().any(|h| h.name.eq_ignore_ascii_case(name)) {
            return Err(format!("Multipart: Duplicate part header: {}.", String::from_utf8_lossy(name)));
        }
        let value = &content[colon + 1..];
        let value = &value[value.iter().take_while(|&&c| c == b' ' || c == b'\t').count()..];
        self.part.headers.push(Header { name, value: Cow::Borrowed(value), line: Cow::Borrowed(content) });
        Ok(())
    }

    /// The blank line after a part's headers; `end` is where its content starts.
    fn end_of_headers(&mut self, end: usize) -> Step {
        let lenient = self.limits.compat == Compat::Coraza;
        let cd = self.part.headers.iter().position(|h| h.name.eq_ignore_ascii_case(b"Content-Disposition"));
        if let Some(cd) = cd {
            let cd_value = self.part.headers[cd].value.clone();
            let parsed = parse_content_disposition(&cd_value);
            let out = &mut *self.out;
            out.multipart.invalid_quoting |= parsed.invalid_quoting;
            let params: Vec<(bool, Cow<'a, [u8]>)> =
                parsed.params.into_iter().map(|(is_name, v)| (is_name, v.resolve(&cd_value))).collect();
            for (is_name, v) in &params {
                if *is_name {
                    out.multipart_names.push(v.clone());
                } else {
                    out.multipart_filenames.push(v.clone());
                }
            }
            if let Err(code) = parsed.result {
                return Err(format!(
                    "Multipart: Invalid Content-Disposition header ({code}): {}",
                    String::from_utf8_lossy(&cd_value)
                ));
            }
            for (is_name, v) in params {
                if is_name {
                    self.part.name = Some(v);
                } else {
                    self.part.filename = Some(v);
                }
            }
            if self.part.filename.as_ref().is_some_and(|f| !f.is_empty()) && find(&cd_value, b"filename=").is_none() {
                return Err("Multipart: Invalid Content-Disposition header (filename).".into());
            }
        } else if !lenient {
            return Err("Multipart: Part missing Content-Disposition header.".into());
        }
        if self.part.name.as_ref().is_none_or(|n| n.is_empty()) {
            if !lenient {
                return Err("Multipart: Content-Disposition header missing name field.".into());
            }
            // Coraza (Go's mime/multipart) keeps a part without a name as the argument "".
            self.out.multipart.invalid_part = true;
        }
        let name = self.part.name.clone().unwrap_or_default();
        for h in &self.part.headers {
            self.out.part_headers.push((name.clone(), h.line.clone()));
        }
        self.part.data_start = end;
        self.state = State::Data;
        Ok(())
    }

    /// Ends the current part at `boundary_start`, the offset of the line holding the next boundary (or the
    /// end of an unterminated body, `at_boundary == false`).
    fn finish_part(&mut self, boundary_start: usize, at_boundary: bool) -> Step {
        match self.state {
            State::Preamble | State::Epilogue => return Ok(()),
            State::Headers => {
                // Headers never ended, so ModSecurity never learnt the part's name.
                self.out.multipart.invalid_part = true;
                return Ok(());
            }
            State::Data => {}
        }
        let part = std::mem::take(&mut self.part);
        let start = part.data_start;
        let mut end = boundary_start.max(start);
        if at_boundary {
            // The line break before a boundary belongs to the boundary.
            if self.body[start..end].ends_with(b"\r\n") {
                end -= 2;
            } else if self.body[start..end].ends_with(b"\n") {
                end -= 1;
            }
        }
        let content = &self.body[start..end];
        let name = part.name.unwrap_or_default();
        match part.filename {
            Some(filename) if !filename.is_empty() => {
                if self.out.files.len() >= self.limits.max_files {
                    self.out.multipart.file_limit_exceeded = true;
                    return Ok(());
                }
                let content_type =
                    part.headers.into_iter().find(|h| h.name.eq_ignore_ascii_case(b"Content-Type")).map(|h| h.value);
                self.out.files.push(FilePart {
                    name,
                    filename,
                    content_type,
                    size: content.len(),
                    content: Cow::Borrowed(content),
                });
            }
            _ => {
                if !push_arg(self.out, self.limits, PREFIX, name, Cow::Borrowed(content)) {
                    return Err(String::new()); // error already recorded
                }
            }
        }
        Ok(())
    }
}

/// A parsed parameter value: a range of the header value when it needed no unescaping.
enum ParamValue {
    Range(usize, usize),
    Owned(Vec<u8>),
}

impl ParamValue {
    fn resolve<'a>(self, header: &Cow<'a, [u8]>) -> Cow<'a, [u8]> {
        match (self, header) {
            (ParamValue::Range(s, e), Cow::Borrowed(h)) => Cow::Borrowed(&h[s..e]),
            (ParamValue::Range(s, e), Cow::Owned(h)) => Cow::Owned(h[s..e].to_vec()),
            (ParamValue::Owned(v), _) => Cow::Owned(v),
        }
    }
}

struct ContentDisposition {
    /// `(is_name, value)` for each `name`/`filename` parameter in order, duplicates included.
    params: Vec<(bool, ParamValue)>,
    invalid_quoting: bool,
    /// ModSecurity's negative return codes on failure.
    result: Result<(), i32>,
}

/// ModSecurity's `parse_content_disposition`, with its error codes.
fn parse_content_disposition(v: &[u8]) -> ContentDisposition {
    let mut cd = ContentDisposition { params: Vec::new(), invalid_quoting: false, result: Ok(()) };
    cd.result = parse_cd_into(v, &mut cd);
    cd
}

fn parse_cd_into(v: &[u8], cd: &mut ContentDisposition) -> Result<(), i32> {
    let at = |i: usize| v.get(i).copied();
    let skip_ws = |mut i: usize| {
        while matches!(at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    if !v.starts_with(b"form-data") {
        return Err(-1);
    }
    let mut p = skip_ws(9);
    if p == v.len() {
        return Ok(());
    }
    if at(p) != Some(b';') {
        return Err(-2);
    }
    p += 1;
    let (mut seen_name, mut seen_filename) = (false, false);
    while p < v.len() {
        p = skip_ws(p);
        if p == v.len() {
            return Err(-3);
        }
        let start = p;
        while !matches!(at(p), None | Some(b'=' | b' ' | b'\t')) {
            p += 1;
        }
        if p == v.len() {
            return Err(-4);
        }
        let pname = &v[start..p];
        p = skip_ws(p);
        if p == v.len() {
            return Err(-5);
        }
        if at(p) != Some(b'=') {
            return Err(-13);
        }
        p = skip_ws(p + 1);
        if p == v.len() {
            return Err(-6);
        }
        let value = match at(p) {
            Some(quote @ (b'"' | b'\'')) => {
                if quote == b'\'' {
                    cd.invalid_quoting = true;
                }
                p += 1;
                if p == v.len() {
                    return Err(-7);
                }
                let start = p;
                let mut owned: Option<Vec<u8>> = None;
                loop {
                    match at(p) {
                        None => return Err(-7), // unterminated quoted value
                        Some(b'\\') => {
                            let Some(next) = at(p + 1) else { return Err(-8) };
                            if next == quote || next == b'\\' {
                                owned.get_or_insert_with(|| v[start..p].to_vec()).push(next);
                                p += 2;
                                continue;
                            }
                            // Other escapes are kept as is (ModSecurity tolerates IE's unescaped paths).
                        }
                        Some(c) if c == quote => break,
                        Some(_) => {}
                    }
                    if let Some(o) = owned.as_mut() {
                        o.push(v[p]);
                    }
                    p += 1;
                }
                let end = p;
                p += 1; // over the closing quote
                match owned {
                    Some(o) => ParamValue::Owned(o),
                    None => ParamValue::Range(start, end),
                }
            }
            _ => {
                let start = p;
                while at(p).is_some_and(is_token_char) {
                    p += 1;
                }
                ParamValue::Range(start, p)
            }
        };
        let quote_in_value = match &value {
            ParamValue::Range(s, e) => v[*s..*e].contains(&b'\''),
            ParamValue::Owned(o) => o.contains(&b'\''),
        };
        match pname {
            b"name" => {
                cd.invalid_quoting |= quote_in_value;
                cd.params.push((true, value));
                if std::mem::replace(&mut seen_name, true) {
                    return Err(-14);
                }
            }
            b"filename" => {
                cd.invalid_quoting |= quote_in_value;
                cd.params.push((false, value));
                if std::mem::replace(&mut seen_filename, true) {
                    return Err(-15);
                }
            }
            _ => return Err(-11),
        }
        if p < v.len() {
            p = skip_ws(p);
            if p == v.len() {
                return Ok(());
            }
            if at(p) != Some(b';') {
                if p > 0 && matches!(v[p - 1], b'\'' | b'"') {
                    cd.invalid_quoting = true;
                }
                return Err(-12);
            }
            p += 1;
        }
    }
    Ok(())
}

fn is_token_char(c: u8) -> bool {
    c > 32 && c < 127 && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn chomp(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

/// ModSecurity's `count_boundary_params`: occurrences of `boundary` (any case) with a `=` somewhere after.
fn count_boundary_params(v: &[u8]) -> usize {
    let mut count = 0;
    let mut from = 0;
    while let Some(i) = find_ignore_case(&v[from..], b"boundary") {
        from += i + b"boundary".len();
        if v[from..].contains(&b'=') {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &[u8] = b"multipart/form-data; boundary=xyz";

    fn parse(body: &[u8]) -> ParsedBody<'_> {
        parse_multipart(body, CT, &BodyLimits::default())
    }

    fn crlf(s: &str) -> Vec<u8> {
        s.replace('\n', "\r\n").into_bytes()
    }

    fn args(p: &ParsedBody<'_>) -> Vec<(String, String)> {
        p.args
            .iter()
            .map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    const FORM: &str = "--xyz\n\
Content-Disposition: form-data; name=\"a\"\n\
\n\
one\n\
two\n\
--xyz\n\
Content-Disposition: form-data; name=\"f\"; filename=\"x.php\"\n\
Content-Type: application/x-php\n\
\n\
<?php system($_GET['c']); ?>\n\
--xyz\n\
Content-Disposition: form-data; name=\"a\"\n\
\n\
\n\
--xyz--\n";

    #[test]
    fn fields_files_and_headers() {
        let body = crlf(FORM);
        let p = parse(&body);
        assert_eq!(p.error, None);
        assert_eq!(p.multipart, MultipartFlags { crlf_lf_lines: false, ..MultipartFlags::default() });
        assert_eq!(args(&p), [("a".to_string(), "one\r\ntwo".to_string()), ("a".to_string(), String::new())]);
        assert_eq!(p.files.len(), 1);
        let f = &p.files[0];
        assert_eq!((&f.name[..], &f.filename[..]), (&b"f"[..], &b"x.php"[..]));
        assert_eq!(f.content_type.as_deref(), Some(&b"application/x-php"[..]));
        assert_eq!(&f.content[..], b"<?php system($_GET['c']); ?>");
        assert_eq!(f.size, 28);
        assert_eq!(p.files_combined_size(), 28);
        let headers: Vec<(&[u8], &[u8])> = p.part_headers.iter().map(|(n, l)| (&n[..], &l[..])).collect();
        assert_eq!(
            headers,
            [
                (&b"a"[..], &b"Content-Disposition: form-data; name=\"a\""[..]),
                (b"f", b"Content-Disposition: form-data; name=\"f\"; filename=\"x.php\""),
                (b"f", b"Content-Type: application/x-php"),
                (b"a", b"Content-Disposition: form-data; name=\"a\""),
            ]
        );
        assert_eq!(p.multipart_names.len(), 3);
        assert_eq!(&p.multipart_filenames[0][..], b"x.php");
        assert!(matches!(p.args[0].1, Cow::Borrowed(_)));
    }

    #[test]
    fn lf_only_lines_are_flagged_and_strict_only_for_modsecurity() {
        let body = FORM.as_bytes();
        let p = parse(body);
        assert_eq!(p.error, None);
        assert!(p.multipart.lf_line && !p.multipart.crlf_lf_lines && !p.multipart.strict_error);
        assert_eq!(&p.args[0].1[..], b"one\ntwo");
        let modsec = BodyLimits { compat: Compat::ModSecurity, ..BodyLimits::default() };
        let p = parse_multipart(body, CT, &modsec);
        assert!(p.multipart.strict_error);
        assert_eq!(p.multipart.unmatched_boundary, 2, "ModSecurity v3's quirk");
    }

    #[test]
    fn mixed_line_endings() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\n\r\nv\r\n--xyz--\r\n";
        let p = parse(body);
        assert!(p.multipart.lf_line && p.multipart.crlf_lf_lines);
    }

    #[test]
    fn missing_final_boundary_reports_the_part() {
        let body = crlf("--xyz\nContent-Disposition: form-data; name=\"a\"\n\nvalue\n");
        let p = parse(&body);
        assert_eq!(p.error.as_deref(), Some("Multipart parsing error: Multipart: Final boundary missing."));
        assert!(p.multipart.strict_error);
        assert_eq!(&p.args[0].1[..], b"value\r\n");
        let p = parse(b"no boundary here");
        assert_eq!(p.error.as_deref(), Some("Multipart parsing error: Multipart: No boundaries found in payload."));
        assert!(p.multipart.data_before);
    }

    #[test]
    fn final_boundary_without_newline() {
        let p = parse(b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xyz--");
        assert_eq!(p.error, None);
        assert_eq!(&p.args[0].1[..], b"v");
    }

    #[test]
    fn data_before_and_after() {
        let body = crlf("preamble\n--xyz\nContent-Disposition: form-data; name=\"a\"\n\nv\n--xyz--\nepilogue\n");
        let p = parse(&body);
        assert_eq!(p.error, None);
        assert!(p.multipart.data_before && p.multipart.data_after && !p.multipart.strict_error);
        let p = parse_multipart(&body, CT, &BodyLimits { compat: Compat::ModSecurity, ..BodyLimits::default() });
        assert!(p.multipart.strict_error);
    }

    #[test]
    fn header_folding() {
        let body = crlf("--xyz\nContent-Disposition: form-data;\n name=\"a\"\nX-Y: 1\n\t2\n\nv\n--xyz--\n");
        let p = parse(&body);
        assert_eq!(p.error, None);
        assert!(p.multipart.header_folding && !p.multipart.invalid_header_folding);
        assert_eq!(&p.args[0].0[..], b"a");
        assert_eq!(&p.part_headers[0].1[..], b"Content-Disposition: form-data; name=\"a\"");
        assert_eq!(&p.part_headers[1].1[..], b"X-Y: 1 2");
        let body = crlf("--xyz\nContent-Disposition: form-data;\n\x0b name=\"a\"\n\nv\n--xyz--\n");
        assert!(parse(&body).multipart.invalid_header_folding);
        let body = crlf("--xyz\n folded first\n\nv\n--xyz--\n");
        assert!(parse(&body).error.unwrap().contains("folding error"));
    }

    #[test]
    fn unmatched_boundaries() {
        let body = crlf("--xyz\nContent-Disposition: form-data; name=\"a\"\n\nx--xyz\n--other\n--xyz--\n");
        let p = parse(&body);
        assert_eq!(p.error, None);
        assert_eq!(p.multipart.unmatched_boundary, 1);
        assert_eq!(&p.args[0].1[..], b"x--xyz\r\n--other");
    }

    #[test]
    fn boundary_line_errors() {
        let p = parse(b"--xyzjunk\r\n");
        assert!(p.error.unwrap().contains("Invalid boundary: --xyzjunk"));
        let p = parse(b"-- xyz\r\n");
        assert!(p.error.unwrap().contains("Invalid boundary (whitespace)."));
        let p = parse_multipart(b"--\"xyz\"\r\n", b"multipart/form-data; boundary=\"xyz\"", &BodyLimits::default());
        assert!(p.error.unwrap().contains("Invalid boundary (quotes)."));
        // Transport padding after a boundary: accepted by Coraza, an error for ModSecurity.
        let body = b"--xyz  \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xyz-- \r\n";
        assert_eq!(parse(body).error, None);
        let modsec = BodyLimits { compat: Compat::ModSecurity, ..BodyLimits::default() };
        assert!(parse_multipart(body, CT, &modsec).error.is_some());
    }

    #[test]
    fn header_errors() {
        let cases: [(&str, &str); 6] = [
            ("--xyz\nno colon\n\nv\n--xyz--\n", "colon missing): no colon"),
            ("--xyz\n: v\n\nv\n--xyz--\n", "(header name missing)."),
            ("--xyz\n\x0eContent-Disposition: form-data; name=\"a\"\n\nv\n--xyz--\n", "(contains invalid character)"),
            ("--xyz\nContent\x7f-Disposition: form-data; name=\"a\"\n\nv\n--xyz--\n", "(contains invalid character)"),
            ("--xyz\nX: 1\nx: 2\n\nv\n--xyz--\n", "Duplicate part header: x."),
            ("--xyz\nX: a\0b\n\nv\n--xyz--\n", "Nul byte in part headers."),
        ];
        for (body, want) in cases {
            let p = parse(body.as_bytes());
            let e = p.error.unwrap_or_else(|| panic!("no error for {body:?}"));
            assert!(e.contains(want), "{e} does not contain {want}");
            assert!(e.starts_with("Multipart parsing error: Multipart: "));
            assert!(p.multipart.strict_error);
        }
        // A part without Content-Disposition or name: an error for ModSecurity, the argument "" for Coraza.
        let modsec = BodyLimits { compat: Compat::ModSecurity, ..BodyLimits::default() };
        for (body, want) in [
            ("--xyz\nX: 1\n\nv\n--xyz--\n", "Multipart: Part missing Content-Disposition header."),
            (
                "--xyz\nContent-Disposition: form-data\n\nv\n--xyz--\n",
                "Multipart: Content-Disposition header missing name field.",
            ),
        ] {
            let p = parse_multipart(body.as_bytes(), CT, &modsec);
            assert!(p.error.unwrap().ends_with(want));
            let p = parse(body.as_bytes());
            assert_eq!(p.error, None);
            assert!(p.multipart.invalid_part && !p.multipart.strict_error);
            assert_eq!((&p.args[0].0[..], &p.args[0].1[..]), (&b""[..], &b"v"[..]));
            assert_eq!(&p.part_headers[0].0[..], b"");
        }
        // A space inside a header name is not an error (CRS 922130 catches it in MULTIPART_PART_HEADERS).
        let p = parse(b"--xyz\nContent- Disposition: x\nContent-Disposition: form-data; name=\"a\"\n\nv\n--xyz--\n");
        assert_eq!(p.error, None);
        assert_eq!(&p.part_headers[0].1[..], b"Content- Disposition: x");
    }

    #[test]
    fn too_many_headers() {
        let mut body = String::from("--xyz\n");
        for i in 0..=MAX_PART_HEADERS {
            body.push_str(&format!("X-{i}: v\n"));
        }
        body.push_str("\nv\n--xyz--\n");
        assert!(parse(body.as_bytes()).error.unwrap().contains("Too many part headers"));
    }

    #[test]
    fn long_header_lines() {
        let limits = BodyLimits { max_part_header_bytes: 64, ..BodyLimits::default() };
        let long = format!("--xyz\nContent-Disposition: form-data; name=\"{}\"\n\nv\n--xyz--\n", "a".repeat(64));
        let p = parse_multipart(long.as_bytes(), CT, &limits);
        assert!(p.error.unwrap().contains("Part header line over 64 bytes long"));
    }

    #[test]
    fn content_disposition_variants() {
        let cd = |v: &str| {
            let body = format!("--xyz\nContent-Disposition: {v}\n\nv\n--xyz--\n");
            let p = parse(body.as_bytes());
            let n = p.args.first().map(|a| String::from_utf8_lossy(&a.0).into_owned());
            let f = p.files.first().map(|f| String::from_utf8_lossy(&f.filename).into_owned());
            (
                n.or(p.files.first().map(|f| String::from_utf8_lossy(&f.name).into_owned())),
                f,
                p.multipart.invalid_quoting,
                p.error,
            )
        };
        assert_eq!(cd("form-data; name=plain"), (Some("plain".into()), None, false, None));
        assert_eq!(cd("form-data; name='single'"), (Some("single".into()), None, true, None));
        assert_eq!(cd(r#"form-data; name="a\"b\\c\d""#), (Some(r#"a"b\c\d"#.into()), None, false, None));
        assert_eq!(cd(r#"form-data;name="n";filename="f.txt""#), (Some("n".into()), Some("f.txt".into()), false, None));
        assert_eq!(
            cd(r#"form-data; name="n"; filename="""#),
            (Some("n".into()), None, false, None),
            "empty filename is a field"
        );
        assert!(cd(r#"form-data; name="it's""#).2);
        for (bad, code) in [
            ("attachment; name=\"a\"", -1),
            ("form-data name=\"a\"", -2),
            ("form-data; ", -3),
            ("form-data; name", -4),
            ("form-data; name ", -5),
            ("form-data; name x", -13),
            ("form-data; name=", -6),
            ("form-data; name=\"a", -7),
            ("form-data; other=\"a\"", -11),
            ("form-data; name=\"a\" x", -12),
            ("form-data; name=\"a\"; name=\"b\"", -14),
            ("form-data; name=\"a\"; filename=\"b\"; filename=\"c\"", -15),
            ("form-data; name=\"a\"; filename*=UTF-8''x", -11),
        ] {
            let e = cd(bad).3.unwrap_or_else(|| panic!("no error for {bad}"));
            assert!(e.contains(&format!("Invalid Content-Disposition header ({code})")), "{bad}: {e}");
        }
    }

    #[test]
    fn parts_without_headers_are_invalid() {
        let p = parse(b"--xyz\r\n--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xyz--\r\n");
        assert_eq!(p.error, None);
        assert!(p.multipart.invalid_part);
        assert_eq!(p.args.len(), 1);
    }

    #[test]
    fn file_limit() {
        let limits = BodyLimits { max_files: 1, ..BodyLimits::default() };
        let part = "--xyz\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\n\nx\n";
        let body = crlf(&format!("{part}{part}--xyz--\n"));
        let p = parse_multipart(&body, CT, &limits);
        assert_eq!(p.files.len(), 1);
        assert!(p.multipart.file_limit_exceeded);
        assert!(!p.multipart.strict_error);
        let modsec = BodyLimits { compat: Compat::ModSecurity, ..limits };
        assert!(parse_multipart(&body, CT, &modsec).multipart.strict_error);
    }

    #[test]
    fn boundary_parsing() {
        let ok = |ct: &str| {
            multipart_boundary(ct.as_bytes()).map(|b| (String::from_utf8_lossy(b.value).into_owned(), b.flags))
        };
        let (v, f) = ok("multipart/form-data; boundary=----WebKitFormBoundaryABC").unwrap();
        assert_eq!(v, "----WebKitFormBoundaryABC");
        assert_eq!(f, MultipartFlags::default());
        let (v, f) = ok("Multipart/Form-Data; boundary=\"a b\"").unwrap();
        assert_eq!((v.as_str(), f.boundary_quoted), ("a b", true));
        let (_, f) = ok("multipart/form-data boundary=x").unwrap();
        assert!(f.missing_semicolon);
        let (_, f) = ok("multipart/form-data; boundary = x").unwrap();
        assert!(f.boundary_whitespace);
        let (v, _) = ok("multipart/form-data; boundary=x; charset=utf-8").unwrap();
        assert_eq!(v, "x");
        for (ct, msg) in [
            ("text/plain; boundary=x", "Invalid MIME type."),
            ("multipart/form-data", "Boundary not found in C-T."),
            ("multipart/form-data; BOUNDARY=x", "(case sensitivity)."),
            ("multipart/form-data; boundary=x; boundary=y", "Multiple boundary parameters"),
            ("multipart/form-data; x; boundary=x", "(malformed)."),
            ("multipart/form-data; boundary", "(malformed)."),
            ("multipart/form-data; boundaryx=y", "(parameter name)."),
            ("multipart/form-data; boundary=\"x", "(quote)."),
            ("multipart/form-data; boundary=x\"", "(quote)."),
            ("multipart/form-data; boundary=\"\"", "(empty)."),
            ("multipart/form-data; boundary=", "(empty)."),
            ("multipart/form-data; boundary=a{b", "(characters)."),
            ("multipart/form-data; boundary=\"a=boundary=b\"", "Multiple boundary parameters"),
        ] {
            let e = multipart_boundary(ct.as_bytes()).unwrap_err();
            assert!(e.message.contains(msg), "{ct}: {}", e.message);
        }
        assert!(multipart_boundary(&[b'm'; 2000]).unwrap_err().message.contains("(length)"));
        let p = parse_multipart(b"--x\r\n", b"text/plain", &BodyLimits::default());
        assert!(p.multipart.strict_error && p.error.unwrap().contains("Invalid MIME type"));
    }

    #[test]
    fn empty_body_is_no_error() {
        assert_eq!(parse(b"").error, None);
    }
}
