//! Request body processors: URL-encoded, JSON, multipart/form-data and XML bodies turned into the argument
//! lists, file lists, flags and errors that SecLang variables read (`ARGS_POST`, `FILES*`, `MULTIPART_*`,
//! `XML`, `REQBODY_ERROR`...).
//!
//! Owns: parsing a complete, already buffered body into a [`ParsedBody`]. Must not touch: I/O, temporary
//! files, the engine's collections or rule evaluation — the engine maps a `ParsedBody` onto its variables.
//! Every function here is pure, never panics on any input (bodies come from attackers), runs in time linear
//! in the body and keeps memory bounded by [`BodyLimits`].
//!
//! # Borrowing
//! A [`ParsedBody`] borrows from the body it was parsed from: names and values are [`Cow`]s that stay
//! borrowed whenever no decoding was needed (a benign form or multipart body allocates only the vectors).
//! Call [`ParsedBody::into_owned`] to detach it from the body.
//!
//! # How the engine maps a `ParsedBody` onto SecLang variables
//! | variable | source |
//! |---|---|
//! | `ARGS_POST`, `ARGS_POST_NAMES` (and `ARGS`, `ARGS_NAMES`) | [`ParsedBody::args`], in order, duplicates kept |
//! | `ARGS_GET` | [`parse_urlencoded`] on the query string (ignore `error` there) |
//! | `FILES` / `FILES_NAMES` / `FILES_SIZES` / `FILES_TMP_CONTENT` | [`FilePart::filename`] / [`FilePart::name`] / [`FilePart::size`] / [`FilePart::content`] |
//! | `FILES_COMBINED_SIZE` | [`ParsedBody::files_combined_size`] |
//! | `MULTIPART_PART_HEADERS` | [`ParsedBody::part_headers`]: part name → whole header line (`Content-Type: text/plain`) |
//! | `MULTIPART_NAME`, `MULTIPART_FILENAME` | [`ParsedBody::multipart_names`], [`ParsedBody::multipart_filenames`] |
//! | `MULTIPART_STRICT_ERROR`, `MULTIPART_UNMATCHED_BOUNDARY`, `MULTIPART_*` | [`MultipartFlags`] |
//! | `XML:/*`, `XML://@*` | [`XmlView`] |
//! | `REQBODY_ERROR`, `REQBODY_PROCESSOR_ERROR` | `1` when [`ParsedBody::error`] is `Some` |
//! | `REQBODY_ERROR_MSG`, `REQBODY_PROCESSOR_ERROR_MSG` | [`ParsedBody::error`] (`"JSON parsing error: ..."`, `"Multipart parsing error: Multipart: ..."`) |
//! | `URLENCODED_ERROR` | [`ParsedBody::urlencoded_error`] |
//!
//! Naming follows ModSecurity v3 and Coraza (see each processor's module docs); where the two differ,
//! [`Compat`] picks one, defaulting to Coraza because the CRS regression suite's expectations that this
//! project runs are Coraza's (`coraza-reference/ftw-overrides.yml`).
//!
//! # Example
//! ```
//! use portcullis_waf::body::{parse_json, parse_multipart, BodyLimits};
//!
//! let limits = BodyLimits::default();
//! let parsed = parse_json(br#"{"user":{"name":"x' or 1=1"},"ids":[1,2]}"#, &limits);
//! assert!(parsed.error.is_none());
//! let args: Vec<(&[u8], &[u8])> = parsed.args.iter().map(|(n, v)| (&n[..], &v[..])).collect();
//! assert_eq!(args, [
//!     (&b"json.user.name"[..], &b"x' or 1=1"[..]),
//!     (b"json.ids.0", b"1"),
//!     (b"json.ids.1", b"2"),
//!     (b"json.ids", b"2"), // Coraza also reports an array's length under the array's own name
//! ]);
//!
//! let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.php\"\r\n\r\n<?php\r\n--b--\r\n";
//! let parsed = parse_multipart(body, b"multipart/form-data; boundary=b", &limits);
//! assert!(parsed.error.is_none() && !parsed.multipart.strict_error);
//! assert_eq!(&parsed.files[0].filename[..], b"a.php");
//! assert_eq!(&parsed.files[0].content[..], b"<?php");
//! ```

use std::borrow::Cow;

mod json;
mod multipart;
mod urlencoded;
mod xml;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod fuzz;

pub use json::parse_json;
pub use multipart::{multipart_boundary, parse_multipart, Boundary};
pub use urlencoded::parse_urlencoded;
pub use xml::parse_xml;

/// Which engine's conventions to reproduce where ModSecurity v3 and Coraza disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// Coraza v3: JSON array items are `json.a.0`, and `json.a` holds the array's length; an empty JSON key
    /// adds nothing to the path (`json.`); `MULTIPART_STRICT_ERROR` is raised by parse errors only (LF-only
    /// lines, a preamble or an epilogue are legal, as Go's `mime/multipart` reads them) and transport
    /// padding (spaces/tabs) after a boundary is accepted.
    #[default]
    Coraza,
    /// ModSecurity v3: JSON array items are `json.a.array_0`, no length entry, an empty key is named
    /// `empty-key`; `MULTIPART_STRICT_ERROR` is the OR of every multipart flag (LF lines included) and a
    /// boundary line must end right after the boundary. `MULTIPART_UNMATCHED_BOUNDARY` reproduces v3's
    /// value `2` once a second boundary matched.
    ModSecurity,
}

/// Bounds that keep parsing linear and memory bounded; exceeding one sets [`ParsedBody::error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyLimits {
    /// Most arguments kept (`SecArgumentsLimit`); more set an error instead of being silently dropped.
    pub max_args: usize,
    /// Deepest JSON nesting accepted (`SecRequestBodyJsonDepthLimit`).
    pub max_json_depth: usize,
    /// Most multipart file parts recorded (`SecUploadFileLimit`); more set `file_limit_exceeded`.
    pub max_files: usize,
    /// Longest multipart part header line, folded continuation included (ModSecurity's 4 KiB buffer).
    pub max_part_header_bytes: usize,
    /// Most XML nodes (elements, texts, attributes' owners...) built before giving up.
    pub max_xml_nodes: u32,
    /// Conventions to follow where ModSecurity and Coraza differ.
    pub compat: Compat,
}

impl Default for BodyLimits {
    /// ModSecurity/Coraza defaults: 1000 arguments, JSON depth 1024 (coraza.conf-recommended), 100 files,
    /// 4096-byte part header lines.
    fn default() -> Self {
        Self {
            max_args: 1000,
            max_json_depth: 1024,
            max_files: 100,
            max_part_header_bytes: 4096,
            max_xml_nodes: 100_000,
            compat: Compat::default(),
        }
    }
}

/// One multipart part that carried a non-empty `filename`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePart<'a> {
    /// Form field name (`FILES_NAMES`).
    pub name: Cow<'a, [u8]>,
    /// Client-supplied file name (`FILES`).
    pub filename: Cow<'a, [u8]>,
    /// The part's `Content-Type` header value, if any.
    pub content_type: Option<Cow<'a, [u8]>>,
    /// Content length in bytes (`FILES_SIZES`).
    pub size: usize,
    /// The content itself, borrowed from the body (`FILES_TMP_CONTENT`).
    pub content: Cow<'a, [u8]>,
}

/// Multipart flags, named after the `MULTIPART_*` variables (each is `1` when `true`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MultipartFlags {
    /// `MULTIPART_STRICT_ERROR`: see [`Compat`] for what feeds it.
    pub strict_error: bool,
    /// `MULTIPART_UNMATCHED_BOUNDARY`: `1` when a line looked like a boundary but was not ours
    /// (`2` in [`Compat::ModSecurity`], see there).
    pub unmatched_boundary: u8,
    /// `MULTIPART_BOUNDARY_QUOTED`: `boundary="..."` in the Content-Type.
    pub boundary_quoted: bool,
    /// `MULTIPART_BOUNDARY_WHITESPACE`: whitespace around `=` of the boundary parameter.
    pub boundary_whitespace: bool,
    /// `MULTIPART_DATA_BEFORE`: bytes before the first boundary.
    pub data_before: bool,
    /// `MULTIPART_DATA_AFTER`: bytes after the final boundary.
    pub data_after: bool,
    /// `MULTIPART_HEADER_FOLDING`: a part header continued on the next line.
    pub header_folding: bool,
    /// `MULTIPART_LF_LINE`: a boundary or header line ended in a bare LF.
    pub lf_line: bool,
    /// `MULTIPART_CRLF_LF_LINES`: both CRLF and bare LF line endings were used.
    pub crlf_lf_lines: bool,
    /// `MULTIPART_SEMICOLON_MISSING`: no `;` between the media type and `boundary`.
    pub missing_semicolon: bool,
    /// `MULTIPART_INVALID_QUOTING`: single quotes in Content-Disposition parameters.
    pub invalid_quoting: bool,
    /// `MULTIPART_INVALID_PART`: a part without a name was skipped.
    pub invalid_part: bool,
    /// `MULTIPART_INVALID_HEADER_FOLDING`: folding with whitespace other than SP/HTAB.
    pub invalid_header_folding: bool,
    /// `MULTIPART_FILE_LIMIT_EXCEEDED`: more file parts than [`BodyLimits::max_files`].
    pub file_limit_exceeded: bool,
}

/// What the `XML` collection returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlView<'a> {
    /// Every non-blank text node, trimmed, in document order (Coraza's `XML:/*`); character data and
    /// CDATA included, entity references resolved (internal entities only).
    pub texts: Vec<Cow<'a, [u8]>>,
    /// Every attribute value in document order (`XML://@*`).
    pub attributes: Vec<Cow<'a, [u8]>>,
}

impl XmlView<'_> {
    /// ModSecurity's `XML:/*`: the text content of the root element as one value — every text node,
    /// untrimmed, concatenated in document order.
    pub fn text_content(&self) -> Vec<u8> {
        self.texts.concat()
    }
}

/// The result of one body processor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedBody<'a> {
    /// `ARGS_POST` name → value, in order, duplicates kept.
    pub args: Vec<(Cow<'a, [u8]>, Cow<'a, [u8]>)>,
    /// File parts (multipart only).
    pub files: Vec<FilePart<'a>>,
    /// `MULTIPART_PART_HEADERS`: part name → whole (unfolded) header line, in order.
    pub part_headers: Vec<(Cow<'a, [u8]>, Cow<'a, [u8]>)>,
    /// `MULTIPART_NAME`: every Content-Disposition `name` seen, in order.
    pub multipart_names: Vec<Cow<'a, [u8]>>,
    /// `MULTIPART_FILENAME`: every Content-Disposition `filename` seen, in order.
    pub multipart_filenames: Vec<Cow<'a, [u8]>>,
    /// Multipart flags (all `false` for other processors).
    pub multipart: MultipartFlags,
    /// `XML` collection (XML processor only).
    pub xml: Option<XmlView<'a>>,
    /// `URLENCODED_ERROR`: an invalid `%` escape was kept literally.
    pub urlencoded_error: bool,
    /// `REQBODY_ERROR=1` with this message as `REQBODY_ERROR_MSG`.
    pub error: Option<String>,
}

impl ParsedBody<'_> {
    /// `FILES_COMBINED_SIZE`: the sizes of all file parts added up.
    pub fn files_combined_size(&self) -> usize {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Detaches the result from the body it borrows (file contents are copied).
    pub fn into_owned(self) -> ParsedBody<'static> {
        fn own(c: Cow<'_, [u8]>) -> Cow<'static, [u8]> {
            Cow::Owned(c.into_owned())
        }
        ParsedBody {
            args: self.args.into_iter().map(|(n, v)| (own(n), own(v))).collect(),
            files: self
                .files
                .into_iter()
                .map(|f| FilePart {
                    name: own(f.name),
                    filename: own(f.filename),
                    content_type: f.content_type.map(own),
                    size: f.size,
                    content: own(f.content),
                })
                .collect(),
            part_headers: self.part_headers.into_iter().map(|(n, v)| (own(n), own(v))).collect(),
            multipart_names: self.multipart_names.into_iter().map(own).collect(),
            multipart_filenames: self.multipart_filenames.into_iter().map(own).collect(),
            multipart: self.multipart,
            xml: self.xml.map(|x| XmlView {
                texts: x.texts.into_iter().map(own).collect(),
                attributes: x.attributes.into_iter().map(own).collect(),
            }),
            urlencoded_error: self.urlencoded_error,
            error: self.error,
        }
    }
}

/// Pushes an argument unless the limit is reached, in which case the error is set (once) and `false` is
/// returned so the caller can stop.
pub(crate) fn push_arg<'a>(
    out: &mut ParsedBody<'a>,
    limits: &BodyLimits,
    prefix: &str,
    name: Cow<'a, [u8]>,
    value: Cow<'a, [u8]>,
) -> bool {
    if out.args.len() >= limits.max_args {
        if out.error.is_none() {
            out.error = Some(format!("{prefix}argument limit of {} exceeded", limits.max_args));
        }
        return false;
    }
    out.args.push((name, value));
    true
}
