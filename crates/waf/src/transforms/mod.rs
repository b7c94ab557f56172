//! SecLang transformations (`t:` actions). Each one is a pure function in its own file, registered in one
//! table keyed by lowercase name.
//!
//! Contract (the engine relies on it):
//! - `lookup(name)` finds a transformation by its SecLang name, case-insensitively (`"urlDecodeUni"`,
//!   `"lowercase"`...), aliases included (`normalisePath` = `normalizePath`); `none` is handled by the
//!   engine (it resets the chain), not here.
//! - `Transform::apply` returns `Cow::Borrowed(input)` when the input is unchanged, so the benign path does
//!   not allocate. A transformation that only shortens its input (`trim*`, `removeComments` truncating at
//!   `--`) may also return a borrowed *sub-slice*: compare lengths, not variants, to tell "changed".
//! - Never panics, whatever the bytes; linear time.
//!
//! Semantics follow ModSecurity v3 (and Coraza where they agree), byte for byte, including the quirks
//! rules were tuned against; each file's doc says what it does on malformed input. Cases any engine can run
//! live in `testdata/transforms/<name>.txt`.
//!
//! Where ModSecurity v3 and Coraza disagree, ModSecurity v3 wins, except `urlDecodeUni`, which always
//! applies the code page 20127 best-fit map (Coraza, and ModSecurity as configured for CRS). Known
//! differences from Coraza: `compressWhitespace` does not treat 0x85/0xA0 as whitespace, `removeWhitespace`
//! removes the byte 0xA0 (not UTF-8 U+00A0 as a unit), `cssDecode` emits one byte per escape,
//! `normalizePath("//")` is `/`, `hexDecode` does not reject non-hex input. Deliberate differences from
//! ModSecurity v3 (C-string artefacts): `sqlHexDecode` keeps the last byte and NULs.
//!
//! Owns: the transformation functions and the name table. Must not touch: caching of transformed values
//! per transaction (the engine's job).
//!
//! ```
//! use portcullis_waf::transforms::lookup;
//! let t = lookup("urlDecodeUni").unwrap();
//! assert_eq!(&*(t.apply)(b"%u0041%2fetc"), b"A/etc");
//! ```

use std::borrow::Cow;

mod unicode_best_fit;
mod util;

mod base64_decode;
mod base64_decode_ext;
mod base64_encode;
mod base64_if_encoded;
mod cmd_line;
mod compress_whitespace;
mod css_decode;
mod deep_decode;
mod escape_seq_decode;
mod hex_decode;
mod hex_encode;
mod html_entity_decode;
mod js_decode;
mod length;
mod lowercase;
mod md5;
mod normalize_path;
mod normalize_path_win;
mod parity_even_7bit;
mod parity_odd_7bit;
mod parity_zero_7bit;
mod remove_comments;
mod remove_comments_char;
mod remove_nulls;
mod remove_whitespace;
mod replace_comments;
mod replace_nulls;
mod sha1;
mod sql_hex_decode;
pub mod triggers;
mod trim;
mod trim_left;
mod trim_right;
mod uppercase;
mod url_decode;
mod url_decode_uni;
mod url_encode;
mod utf8_to_unicode;

#[cfg(test)]
mod tests;

/// A transformation appending its output to a buffer and saying whether it changed the input
/// ([`Transform::apply_into`]).
type WriteInto = fn(&[u8], &mut Vec<u8>) -> bool;

/// One transformation: its canonical SecLang name and the function applying it.
#[derive(Clone, Copy)]
pub struct Transform {
    /// Canonical SecLang spelling (`"urlDecodeUni"`, `"normalizePath"` for both spellings).
    pub name: &'static str,
    /// The transformation: pure, total, linear; borrows the input when it is unchanged.
    pub apply: fn(&[u8]) -> Cow<'_, [u8]>,
    /// The step's trigger bytes (`triggers::step_triggers`, a 256-bit set holding no letter): without one,
    /// it changes a value at most in letter case. `None` when it may change any value. Filled by [`lookup`].
    pub triggers: Option<[u64; 4]>,
    /// Does the step change letter case on its own (`lowercase`, `uppercase`, `cmdLine`: declared in the table)?
    /// The others hand a value without their triggers back borrowed and whole.
    pub changes_case: bool,
    /// Is the step's output never longer than its input, whatever the input? Declared in the table
    /// ([`shortening`]) for the steps that only drop bytes, keep their length, or turn an escape into at most
    /// as many bytes as the escape's text; the test `never_lengthening_steps_never_lengthen` runs each on
    /// random and escape-heavy inputs. Read it through [`Transform::never_lengthens`].
    shortens: bool,
    /// The same transformation appending its output to a buffer: `cmdLine` and `lowercase` lower case,
    /// `base64Decode` decodes any letters, and every step built on `util::Out` (`urlDecodeUni`, `jsDecode`,
    /// `htmlEntityDecode`, `cssDecode`, `replaceComments`, ...) writes through it into the caller's buffer,
    /// as do `removeWhitespace` and `removeNulls`: no vector allocated, filled, copied and freed per changed
    /// step. Use it through [`Transform::apply_into`].
    into: Option<WriteInto>,
}

impl Transform {
    /// Appends the step's output for `input` to `out` and returns `true`, or returns `false` with `out` as it
    /// was when the step hands `input` back unchanged (`apply` borrowing it whole). The same bytes as
    /// `apply`, without its vector when the step has a writer of its own.
    #[inline]
    pub fn apply_into(&self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if let Some(f) = self.into {
            return f(input, out);
        }
        match (self.apply)(input) {
            Cow::Borrowed(b) if b.len() == input.len() => false,
            // appending to nothing: the step's own vector becomes the output, not a copy of it (a long value
            // under a step without a writer would otherwise be copied once more per step)
            Cow::Owned(v) if out.is_empty() => {
                *out = v;
                true
            }
            other => {
                out.extend_from_slice(&other);
                true
            }
        }
    }

    /// Does the step hand back, borrowed and whole, a value whose bytes other than letters are `present`?
    /// (The engine then skips the call: most steps of CRS's chains act on no byte of a benign value.)
    #[inline]
    pub fn is_identity_on(&self, present: &[u64; 4]) -> bool {
        !self.changes_case && self.keeps_up_to_case(present)
    }

    /// Is the step's output never longer than its input ([`Transform::shortens`])? The engine bounds every
    /// form after a `base64Decode` by the decoded length through such steps ([`base64_decoded_len`]).
    #[inline]
    pub fn never_lengthens(&self) -> bool {
        self.shortens
    }

    /// Does the step leave a value whose bytes other than letters are `present` equal up to letter case (so
    /// its bytes other than letters stay `present`)?
    #[inline]
    pub fn keeps_up_to_case(&self, present: &[u64; 4]) -> bool {
        self.triggers.is_some_and(|t| triggers::none_of(&t, present))
    }
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Transform").field(&self.name).finish()
    }
}

const fn t(name: &'static str, apply: fn(&[u8]) -> Cow<'_, [u8]>) -> Transform {
    Transform { name, apply, triggers: None, changes_case: false, shortens: false, into: None }
}

/// A table entry with a writer of its own ([`Transform::apply_into`]).
const fn writing(tr: Transform, into: WriteInto) -> Transform {
    Transform { into: Some(into), ..tr }
}

/// A table entry for a transformation whose output is never longer than its input ([`Transform::shortens`]).
const fn shortening(tr: Transform) -> Transform {
    Transform { shortens: true, ..tr }
}

/// A table entry for a transformation that changes letter case on its own ([`Transform::changes_case`]).
const fn case_changing(name: &'static str, apply: fn(&[u8]) -> Cow<'_, [u8]>) -> Transform {
    Transform { name, apply, triggers: None, changes_case: true, shortens: false, into: None }
}

/// The registry: lowercase key → transformation. Aliases are extra keys for the same entry.
static TABLE: &[(&str, Transform)] = &[
    (
        "base64decode",
        shortening(writing(t("base64Decode", base64_decode::base64_decode), base64_decode::base64_decode_into)),
    ),
    ("base64decodeext", t("base64DecodeExt", base64_decode_ext::base64_decode_ext)),
    ("base64encode", t("base64Encode", base64_encode::base64_encode)),
    ("base64ifencoded", t("base64IfEncoded", base64_if_encoded::base64_if_encoded)),
    ("cmdline", writing(case_changing("cmdLine", cmd_line::cmd_line), cmd_line::cmd_line_into)),
    (
        "compresswhitespace",
        shortening(writing(
            t("compressWhitespace", compress_whitespace::compress_whitespace),
            compress_whitespace::compress_whitespace_into,
        )),
    ),
    ("cssdecode", writing(t("cssDecode", css_decode::css_decode), css_decode::css_decode_into)),
    ("deepdecode", t("deepDecode", deep_decode::deep_decode)),
    (
        "escapeseqdecode",
        writing(t("escapeSeqDecode", escape_seq_decode::escape_seq_decode), escape_seq_decode::escape_seq_decode_into),
    ),
    ("hexdecode", t("hexDecode", hex_decode::hex_decode)),
    ("hexencode", t("hexEncode", hex_encode::hex_encode)),
    (
        "htmlentitydecode",
        writing(
            t("htmlEntityDecode", html_entity_decode::html_entity_decode),
            html_entity_decode::html_entity_decode_into,
        ),
    ),
    ("jsdecode", shortening(writing(t("jsDecode", js_decode::js_decode), js_decode::js_decode_into))),
    ("length", t("length", length::length)),
    ("lowercase", shortening(writing(case_changing("lowercase", lowercase::lowercase), lowercase::lowercase_into))),
    ("md5", t("md5", md5::md5)),
    ("normalizepath", t("normalizePath", normalize_path::normalize_path)),
    ("normalisepath", t("normalizePath", normalize_path::normalize_path)),
    ("normalizepathwin", t("normalizePathWin", normalize_path_win::normalize_path_win)),
    ("normalisepathwin", t("normalizePathWin", normalize_path_win::normalize_path_win)),
    ("parityeven7bit", t("parityEven7bit", parity_even_7bit::parity_even_7bit)),
    ("parityodd7bit", t("parityOdd7bit", parity_odd_7bit::parity_odd_7bit)),
    ("parityzero7bit", t("parityZero7bit", parity_zero_7bit::parity_zero_7bit)),
    (
        "removecomments",
        writing(t("removeComments", remove_comments::remove_comments), remove_comments::remove_comments_into),
    ),
    (
        "removecommentschar",
        writing(
            t("removeCommentsChar", remove_comments_char::remove_comments_char),
            remove_comments_char::remove_comments_char_into,
        ),
    ),
    ("removenulls", shortening(writing(t("removeNulls", remove_nulls::remove_nulls), remove_nulls::remove_nulls_into))),
    (
        "removewhitespace",
        shortening(writing(
            t("removeWhitespace", remove_whitespace::remove_whitespace),
            remove_whitespace::remove_whitespace_into,
        )),
    ),
    (
        "replacecomments",
        shortening(writing(
            t("replaceComments", replace_comments::replace_comments),
            replace_comments::replace_comments_into,
        )),
    ),
    ("replacenulls", t("replaceNulls", replace_nulls::replace_nulls)),
    ("sha1", t("sha1", sha1::sha1)),
    ("sqlhexdecode", writing(t("sqlHexDecode", sql_hex_decode::sql_hex_decode), sql_hex_decode::sql_hex_decode_into)),
    ("trim", t("trim", trim::trim)),
    ("trimleft", t("trimLeft", trim_left::trim_left)),
    ("trimright", t("trimRight", trim_right::trim_right)),
    ("uppercase", case_changing("uppercase", uppercase::uppercase)),
    ("urldecode", shortening(writing(t("urlDecode", url_decode::url_decode), url_decode::url_decode_into))),
    (
        "urldecodeuni",
        shortening(writing(t("urlDecodeUni", url_decode_uni::url_decode_uni), url_decode_uni::url_decode_uni_into)),
    ),
    ("urlencode", writing(t("urlEncode", url_encode::url_encode), url_encode::url_encode_into)),
    (
        "utf8tounicode",
        writing(t("utf8toUnicode", utf8_to_unicode::utf8_to_unicode), utf8_to_unicode::utf8_to_unicode_into),
    ),
];

pub(crate) use base64_decode::base64_decode_into;
pub use base64_decode::decoded_len as base64_decoded_len;

/// Finds a transformation by SecLang name (case-insensitive, aliases accepted). `None` for unknown names
/// and for `none`, which the engine handles itself.
pub fn lookup(name: &str) -> Option<Transform> {
    let tr = TABLE.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, tr)| *tr)?;
    Some(Transform { triggers: triggers::step_triggers(&tr), ..tr })
}

/// Every registered name (lowercase keys, aliases included), for diagnostics and tests.
pub fn names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|(key, _)| *key)
}
