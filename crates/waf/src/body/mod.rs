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
//! | `XML:/*` | [`XmlView::text_values`] (Coraza: one value per text node) or [`XmlView::text_content`] (ModSecurity: one value) |
//! | `XML://@*` | [`XmlView::attributes`] |
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

mod json;
mod limits;
mod multipart;
mod parsed;
mod urlencoded;
mod xml;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod fuzz;

pub use json::parse_json;
pub use limits::{BodyLimits, Compat};
pub use multipart::{multipart_boundary, parse_multipart, Boundary, BoundaryError, MAX_PART_HEADERS};
pub use parsed::{FilePart, MultipartFlags, NameValue, ParsedBody, XmlView};
pub use urlencoded::parse_urlencoded;
pub use xml::{parse_xml, MAX_XML_DEPTH};

pub(crate) use json::{parse_json_into, JsonOut, PREFIX as JSON_ERROR_PREFIX};
pub(crate) use parsed::{arg_limit_error, push_arg};
pub(crate) use urlencoded::{parse_urlencoded_into, ArgsOut};
