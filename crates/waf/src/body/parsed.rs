//! What a body processor returns: arguments, files, part headers, flags, XML view and error.

use std::borrow::Cow;

use super::BodyLimits;

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
    /// `MULTIPART_STRICT_ERROR`: see [`Compat`](super::Compat) for what feeds it.
    pub strict_error: bool,
    /// `MULTIPART_UNMATCHED_BOUNDARY`: `1` when a line looked like a boundary but was not ours
    /// (`2` in [`Compat::ModSecurity`](super::Compat::ModSecurity), see there).
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
    /// Every text node below the root element, as is, in document order; character data and CDATA
    /// included, character and predefined entity references resolved. See [`XmlView::text_values`]
    /// (Coraza's `XML:/*`) and [`XmlView::text_content`] (ModSecurity's).
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

/// A name and its value (or a part name and a header line), borrowed from the body when possible.
pub type NameValue<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);

/// The result of one body processor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedBody<'a> {
    /// `ARGS_POST` name → value, in order, duplicates kept.
    pub args: Vec<NameValue<'a>>,
    /// File parts (multipart only).
    pub files: Vec<FilePart<'a>>,
    /// `MULTIPART_PART_HEADERS`: part name → whole (unfolded) header line, in order.
    pub part_headers: Vec<NameValue<'a>>,
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
            out.error = Some(arg_limit_error(prefix, limits));
        }
        return false;
    }
    out.args.push((name, value));
    true
}

/// The error a body processor records when it stops at `limits.max_args` arguments.
pub(crate) fn arg_limit_error(prefix: &str, limits: &BodyLimits) -> String {
    format!("{prefix}argument limit of {} exceeded", limits.max_args)
}
