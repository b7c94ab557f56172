//! Prefilters: for each detector, a cheap *necessary condition* of it firing, checked in one pass over the
//! value's bytes before the detector tokenises anything. `false` means the detector cannot fire on this value;
//! `true` means it may (run it). The WAF operators (`@detectSQLi`, ...) call these first: most values a
//! gateway sees (ids, numbers, words, UUIDs, tokens, `Accept` lists) fail every one of them.
//!
//! A prefilter may only ever be too generous, never too strict: it must not lower the detection rate. Each one
//! is built from what its detector needs to see, and `tests/prefilter_necessary.rs` runs every detector over
//! every fixture line and every value of the attack corpus (`tests/corpus/`), as extracted and decoded, and
//! fails if a detector fires on a value its prefilter rejected.
//!
//! Two things make any value pass, for every class, because the detectors (or the rule pack's
//! transformations) look past them:
//! - an escape or encoding the decoders undo (`%`, `&`, `\`, `+` as a form space, bytes ≥ 0x80 for overlong
//!   UTF-8 and look-alikes, control bytes), and
//! - a value that is base64 of text ([`crate::decode::base64_payload`]).
//!
//! Owns: the yes/maybe decision per class. Must not touch: detection itself (the detector modules).

use crate::decode::base64;
use crate::decode::base64_payload;
use crate::Class;

/// A 256-entry byte-class table, built at compile time.
struct ByteSet([bool; 256]);

impl ByteSet {
    const fn new(bytes: &[u8]) -> Self {
        let mut t = [false; 256];
        let mut i = 0;
        while i < bytes.len() {
            t[bytes[i] as usize] = true;
            i += 1;
        }
        // Escapes the decoders undo, control bytes and everything non-ASCII: always "maybe".
        t[b'%' as usize] = true;
        t[b'&' as usize] = true;
        t[b'\\' as usize] = true;
        t[b'+' as usize] = true;
        let mut b = 0;
        while b < 0x20 {
            t[b] = true;
            b += 1;
        }
        let mut b = 0x7f;
        while b < 256 {
            t[b] = true;
            b += 1;
        }
        ByteSet(t)
    }

    fn any_in(&self, v: &[u8]) -> bool {
        v.iter().any(|&b| self.0[b as usize])
    }
}

/// Every printable ASCII byte except letters, digits, `_`, `.` and `-`: the bytes a one-word token lacks.
const PUNCT: &[u8] = b" !\"#$'()*,/:;<=>?@[]^`{|}~";

/// SQL needs two tokens with something between them: whitespace or punctuation (quotes, comments, operators,
/// parentheses). A run of letters, digits, `_`, `.` and single `-` is one identifier or number.
static SQLI: ByteSet = ByteSet::new(PUNCT);
/// Markup `<`, an attribute or string breakout (quotes, `=`), a URI scheme `:`, a template `{`, a CSS call
/// `(`. (`>` and `/` only matter after a `<` or a quote.)
static XSS: ByteSet = ByteSet::new(b"<\"'`=:{(");
/// Shell metacharacters, quotes, redirections, substitution, globbing, and whitespace between a program and
/// its arguments. A bare word is checked below (a program name alone at the start of the value).
static CMDI: ByteSet = ByteSet::new(PUNCT);
/// Separators (`/` `\`), drive and wrapper colons (`C:`, `php://`), `~` homes. A `.` is checked below: in a
/// value of one word it only matters as a leading `..` or inside a sensitive name.
static TRAVERSAL: ByteSet = ByteSet::new(b"/:~");
/// URL and address syntax: scheme colon, slashes, `@` userinfo, `[` IPv6, and `?` `#` (they end a bare host
/// early, so `localhost?x` is a host name to the detector, not a word). Without one of those, a value can only
/// be reported as a bare dotted-quad address: checked below ([`crate::ssrf::may_be_bare_ipv4`]).
static SSRF: ByteSet = ByteSet::new(b":/@[?#");
/// Template delimiters' first bytes: `{{` `{%` `${` `#{` `*{` `@{` `<%` `@(` `%{`.
static SSTI: ByteSet = ByteSet::new(b"{$#*@<");
/// Every XXE finding needs markup: a declaration (`<!DOCTYPE`, `<!ENTITY`) or an XInclude element
/// (`<xi:include`), so a `<`.
static XXE: ByteSet = ByteSet::new(b"<");
/// Only the escape bytes every set holds (for detectors whose necessary condition is a word, not a byte).
static ESCAPES: ByteSet = ByteSet::new(b"");
/// A lookup opens with `${`.
static JNDI: ByteSet = ByteSet::new(b"${");
/// Operator keys (`$ne`, also inside a JSON document or a bracketed name `a[$ne]`) need a `$`; the `$where`
/// JavaScript forms the detector knows each hold `||`, `&&`, `;` or a call `(` (`&` is an escape byte, so
/// always "maybe").
static NOSQLI: ByteSet = ByteSet::new(b"$|;(");

/// May `class`'s detector fire on `v`? `false` only when it provably cannot.
///
/// ```
/// use portcullis_detect::{prefilter, Class};
/// assert!(!prefilter::may_match(Class::Sqli, b"hello"));
/// assert!(prefilter::may_match(Class::Sqli, b"1' OR '1'='1"));
/// assert!(!prefilter::may_match(Class::Jndi, b"Mozilla/5.0 (X11; Linux x86_64)"));
/// assert!(prefilter::may_match(Class::Jndi, b"${jndi:ldap://x/a}"));
/// ```
pub fn may_match(class: Class, v: &[u8]) -> bool {
    if v.is_empty() {
        return false;
    }
    let plain = match class {
        Class::Sqli => SQLI.any_in(v) || has_double_dash(v),
        Class::Xss => XSS.any_in(v),
        // Without shell syntax the value is one word (letters, digits, `.`, `_`, `-`), and the detector only
        // fires on a word that is a whole command it knows (`whoami`, `cmd.exe`): ask its program list.
        Class::Cmdi => CMDI.any_in(v) || crate::cmdi::may_be_program(v),
        Class::PathTraversal => TRAVERSAL.any_in(v) || traversal_without_separator(v, v.contains(&b'.'), !is_word(v)),
        // Without URL syntax the detector reads the value as a bare host, and a bare name (`localhost`,
        // `evil.localhost`) or number (`2130706433`) is a word to it until a port or a path makes it an
        // address: only a dotted quad (`127.0.0.1`) is left.
        Class::Ssrf => SSRF.any_in(v) || crate::ssrf::may_be_bare_ipv4(v),
        Class::Ssti => SSTI.any_in(v),
        Class::Jndi => JNDI.any_in(v),
        Class::NoSqli => NOSQLI.any_in(v),
        // Every key the detector reports holds `__proto__` or `prototype` once decoded (escapes pass above).
        Class::ProtoPollution => ESCAPES.any_in(v) || contains_ci(v, b"proto"),
        Class::Xxe => XXE.any_in(v),
    };
    plain || base64_payload(v).is_some()
}

/// [`may_match`] for every class of one value, decided lazily and remembered: one pass over the bytes when
/// built ([`Classes::of`]), then per class only the word test that class needs, and the base64 check at most
/// once. The WAF engine keeps one per value and transaction and skips each detector operator whose class
/// it rules out, so a value that ten rules hand to ten detectors is scanned once.
/// `Classes::of(v).may_match(c, v) == may_match(c, v)` for every class and value
/// (`tests/prefilter_necessary.rs` checks it on every value it reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classes {
    /// Classes known to pass.
    yes: u16,
    /// Classes decided (pass or not).
    known: u16,
    /// Is the value base64 of text? `None` until a class needs to know.
    base64: Option<bool>,
    /// The byte pass's [`BYTE_CLASSES`] bits from [`B64_KIND_SHIFT`] up: the base64 kinds of `v`'s bytes, and
    /// [`B64_EDGE`] when one of them is in neither alphabet (then the base64 test runs whole).
    b64_bits: u8,
}

impl Classes {
    /// The byte pass over `v` (the same `v` must be given to [`Classes::may_match`]).
    pub fn of(v: &[u8]) -> Classes {
        if v.is_empty() {
            return Classes { yes: 0, known: u16::MAX, base64: Some(false), b64_bits: 0 };
        }
        let mut set = 0u32;
        for &b in v {
            set |= BYTE_CLASSES[b as usize];
        }
        // The same pass answers the base64 test for most values: a byte outside both alphabets that trimming
        // and padding do not remove, or letters and digits that are not mixed, and `base64_payload` says no
        // (it needs every body byte in an alphabet, and mixed kinds over the body, a subset of the value).
        let b64_bits = (set >> B64_KIND_SHIFT) as u8;
        let kinds = b64_bits & base64::KINDS;
        let base64 = (set & B64_OTHER != 0 || !base64::mixed(kinds)).then_some(false);
        // A byte decides the classes it names; the others may still pass by a word or by base64.
        let set = set as u16;
        Classes { yes: set, known: set, base64, b64_bits }
    }

    /// Is `v` base64 of text (`base64_payload(v).is_some()`)? Answered at most once: by the byte pass, else
    /// from its kinds when every byte of `v` is in an alphabet, else by the whole test.
    #[inline]
    fn is_base64(&mut self, v: &[u8]) -> bool {
        match self.base64 {
            Some(known) => known,
            None => {
                let found = self.base64_test(v);
                self.base64 = Some(found);
                found
            }
        }
    }

    /// The base64 test the byte pass left open (out of line: most values never get here).
    #[inline(never)]
    fn base64_test(&self, v: &[u8]) -> bool {
        // every byte in an alphabet (none trimmed, no padding): the test skips its trimming and alphabet pass
        // and starts from the byte pass's kinds
        if self.b64_bits & (B64_EDGE >> B64_KIND_SHIFT) as u8 == 0 {
            base64::is_payload_whole(v, self.b64_bits & base64::KINDS)
        } else {
            base64_payload(v).is_some()
        }
    }

    /// May `class`'s detector fire on `v`? Exactly [`may_match`]`(class, v)`.
    #[inline]
    pub fn may_match(&mut self, class: Class, v: &[u8]) -> bool {
        let b = bit(class);
        if self.known & b == 0 {
            let yes = self.word(class, v) || self.is_base64(v);
            self.known |= b;
            if yes {
                self.yes |= b;
            }
        }
        self.yes & b != 0
    }

    /// The word test of `class` (for a value whose bytes did not decide it): `false` for classes without one.
    fn word(&self, class: Class, v: &[u8]) -> bool {
        match class {
            // `--` needs a `-`, `proto` a `p` (the byte pass records both)
            Class::Sqli => self.yes & DASH != 0 && has_double_dash(v),
            Class::Cmdi => crate::cmdi::may_be_program(v),
            Class::PathTraversal => traversal_without_separator(v, self.yes & DOT != 0, self.yes & NON_WORD_BYTE != 0),
            Class::ProtoPollution => self.yes & LETTER_P != 0 && contains_ci(v, b"proto"),
            Class::Ssrf => crate::ssrf::may_be_bare_ipv4(v),
            _ => false,
        }
    }

    /// Has `class` passed so far (by a byte of its set in [`Classes::of`], or a word or base64 test asked
    /// since)? `false` proves that `v` holds none of the class's bytes (every one of them passes it in the
    /// byte pass): for SSRF, no `:` and so no `://` (`@detectAny`'s URL-only SSRF skips its search then).
    #[inline]
    pub fn passed_so_far(&self, class: Class) -> bool {
        self.yes & bit(class) != 0
    }

    /// Every class decided: bit [`class_bit`]`(c)` is set when `c`'s detector may fire on `v` (the same `v`
    /// as [`Classes::of`]). Each class not yet known costs its word test; the base64 test runs at most once.
    ///
    /// A mask short of [`ALL_CLASSES`] also proves that [`crate::decode::deep`] and
    /// [`crate::decode::base64_payload`] leave `v` alone (every byte `deep` starts at is an escape byte every
    /// class passes on, and base64 of text passes every class), so `t:deepDecode` and `t:base64IfEncoded`
    /// return it unchanged: the WAF engine uses this to skip computing those forms.
    pub fn mask(&mut self, v: &[u8]) -> u16 {
        self.mask_of(v, ALL_CLASSES)
    }

    /// [`Classes::mask`] decided for the classes in `wanted` only: their bits are exactly [`may_match`]; a
    /// class outside `wanted` that is not decided yet reads as passing, and its word test is not run (a rule
    /// set with no detector of that class never asks: CRS has only `@detectSQLi` and `@detectXSS`, and the
    /// command-injection word test costs more than the other classes' tests together). What a mask short of
    /// [`ALL_CLASSES`] proves still holds: a class the value does not pass was decided, by its word test and
    /// the base64 test, against a value with no escape byte that is not base64 of text.
    pub fn mask_of(&mut self, v: &[u8], wanted: u16) -> u16 {
        let unknown = wanted & ALL_CLASSES & !self.known;
        if unknown != 0 {
            // `may_match` per unknown class, in one go: base64 of text passes them all, otherwise each passes
            // by its word test (classes without one need base64, so the test runs anyway)
            if self.is_base64(v) {
                self.yes |= unknown;
            } else {
                for c in WORD_TESTED {
                    if unknown & bit(c) != 0 && self.word(c, v) {
                        self.yes |= bit(c);
                    }
                }
            }
            self.known |= unknown;
        }
        (self.yes | !self.known) & ALL_CLASSES
    }
}

/// The classes with a word test (`Classes::word`).
const WORD_TESTED: [Class; 5] = [Class::Sqli, Class::Cmdi, Class::PathTraversal, Class::ProtoPollution, Class::Ssrf];

/// The bits of every [`Class`] in a [`Classes::mask`].
pub const ALL_CLASSES: u16 = (1 << Class::ALL.len()) - 1;

/// The bit of `class` in a [`Classes::mask`].
pub const fn class_bit(class: Class) -> u16 {
    bit(class)
}

const fn bit(class: Class) -> u16 {
    1 << class as u16
}

/// Per byte, the classes whose byte set holds it (the `ByteSet`s above); the escape bytes every set holds
/// also make a prototype key possible.
/// Above the 16 class and pseudo-class bits: the byte's base64 kind (`decode::base64::kind`), and
/// [`B64_OTHER`] for a byte outside both alphabets that can only be in the body (not `=`, not ASCII whitespace).
static BYTE_CLASSES: [u32; 256] = {
    let sets: [(&ByteSet, Class); 10] = [
        (&SQLI, Class::Sqli),
        (&XSS, Class::Xss),
        (&CMDI, Class::Cmdi),
        (&TRAVERSAL, Class::PathTraversal),
        (&SSRF, Class::Ssrf),
        (&SSTI, Class::Ssti),
        (&JNDI, Class::Jndi),
        (&NOSQLI, Class::NoSqli),
        (&ESCAPES, Class::ProtoPollution),
        (&XXE, Class::Xxe),
    ];
    let mut t = [0u32; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < sets.len() {
            if sets[k].0 .0[b] {
                t[b] |= bit(sets[k].1) as u32;
            }
            k += 1;
        }
        let kind = base64::kind(b as u8);
        t[b] |= (kind as u32) << B64_KIND_SHIFT;
        if kind == 0 && !base64::may_surround_body(b as u8) {
            t[b] |= B64_OTHER;
        }
        if kind == 0 {
            t[b] |= B64_EDGE;
        }
        if b == b'.' as usize {
            t[b] |= DOT as u32;
        }
        if b == b'-' as usize {
            t[b] |= DASH as u32;
        }
        if b == b'p' as usize || b == b'P' as usize {
            t[b] |= LETTER_P as u32;
        }
        if NON_WORD[b] {
            t[b] |= NON_WORD_BYTE as u32;
        }
        b += 1;
    }
    t
};

/// The path traversal test of a value without `/`, `:`, `~` or an escape byte. Without a byte that can stand
/// before a name (`is_boundary` in the detector: space, `=`, `?`, quotes...), a one-word value (letters,
/// digits, `_`, `.`, `-`; a JSON argument name such as `json.client.app`) can only be reported as a leading
/// parent step `..` or as a whole sensitive name (`.env`, `win.ini`, `id_rsa`): ask the detector's list.
/// Other values keep the broader test: a `.` (a parent step after a space), or a bare sensitive name inside.
fn traversal_without_separator(v: &[u8], has_dot: bool, has_non_word: bool) -> bool {
    if has_non_word {
        has_dot || crate::traversal::may_name_sensitive(v)
    } else {
        crate::traversal::may_fire_on_word(v)
    }
}

/// Letters, digits, `_`, `.` and `-` only?
fn is_word(v: &[u8]) -> bool {
    v.iter().all(|&b| !NON_WORD[b as usize])
}

/// Bytes outside letters, digits, `_`, `.` and `-`.
static NON_WORD: [bool; 256] = {
    let mut t = [true; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-' {
            t[b] = false;
        }
        b += 1;
    }
    t
};

/// Pseudo-classes in [`BYTE_CLASSES`] (above the [`Class`] bits): the value holds a `.` / a byte outside
/// letters, digits, `_`, `.` and `-`.
const DOT: u16 = 1 << 14;
/// Pseudo-classes: the value holds a `-` / a `p` or `P` (the word tests for `--` and `proto` need one).
const DASH: u16 = 1 << 12;
const LETTER_P: u16 = 1 << 13;
const NON_WORD_BYTE: u16 = 1 << 15;
/// [`BYTE_CLASSES`] bits 16–20: the byte's base64 kind; bit 21: a byte that rules base64 out.
const B64_KIND_SHIFT: u32 = 16;
const B64_OTHER: u32 = 1 << 21;
/// Bit 22: a byte in neither alphabet (the [`B64_OTHER`] ones, and the whitespace and `=` trimming and padding
/// may remove): without one, the value is all alphabet, its own base64 body.
const B64_EDGE: u32 = 1 << 22;

/// Does `v` contain `needle` (lowercase ASCII, starting with a letter), ignoring ASCII case? The prototype
/// test runs on every parameter value and name: candidates are found by their first byte (`memchr2`, both
/// cases), then compared, instead of comparing a window at every offset.
fn contains_ci(v: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else { return true };
    if v.len() < needle.len() {
        return false;
    }
    let hay = &v[..=v.len() - needle.len()];
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay)
        .any(|at| v[at + 1..at + needle.len()].eq_ignore_ascii_case(rest))
}

/// `--` starts a SQL comment; it is the one two-token form made only of identifier bytes (`admin'--` has a
/// quote anyway, but `1--` does not).
/// The SQLi prefilter's byte and `--` test without the base64 fallback: `false` when `v` is one identifier or
/// number to the SQL tokenizer. The detector asks it of each URL part it reads (`/api/items/42` is three).
pub(crate) fn sql_may_have_two_tokens(v: &[u8]) -> bool {
    SQLI.any_in(v) || has_double_dash(v)
}

fn has_double_dash(v: &[u8]) -> bool {
    v.windows(2).any(|w| w == b"--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inert_values_are_skipped_where_the_class_needs_syntax() {
        assert!(!may_match(Class::Ssrf, b"hello") && !may_match(Class::Ssrf, b"localhost"));
        for v in [&b"hello"[..], b"123", b"id", b"9f1c2b7e-4a7d-4e2b-9a43-0d1f3c5b6a70", b"v1.2.3"] {
            for c in [Class::Sqli, Class::Xss, Class::Ssti, Class::Jndi, Class::NoSqli] {
                assert!(!may_match(c, v), "{c:?} on {:?}", String::from_utf8_lossy(v));
            }
        }
        assert!(!may_match(Class::Jndi, b"application/json"));
        assert!(!may_match(Class::Ssti, b"anchor-bench/1.0 (wrk)"));
        // A bare name or number is a word to the SSRF detector until a port or a path makes it an address;
        // XXE needs markup.
        for v in [&b"2130706433"[..], b"evil.localhost", b"3.14.2", b"1.2.3.4.5", b"alice.example", b"a b.c"] {
            assert!(!may_match(Class::Ssrf, v), "{:?}", String::from_utf8_lossy(v));
            assert!(crate::ssrf::detect(v).is_none(), "{:?}", String::from_utf8_lossy(v));
        }
        for v in [&b"hello"[..], b"{\"a\":1}", b"CorrectHorseBatteryStaple2024", b"XInclude"] {
            assert!(!may_match(Class::Xxe, v), "{:?}", String::from_utf8_lossy(v));
        }
        assert!(!may_match(Class::Xss, b"/api/items"));
    }

    #[test]
    fn escapes_and_base64_always_pass() {
        for c in [Class::Sqli, Class::Xss, Class::Cmdi, Class::PathTraversal, Class::Ssrf, Class::Ssti, Class::Jndi] {
            assert!(may_match(c, b"a%27b"), "{c:?}");
            assert!(may_match(c, b"a&#39;b"), "{c:?}");
            assert!(may_match(c, b"a\\u0027b"), "{c:?}");
            assert!(may_match(c, "caf\u{e9}".as_bytes()), "{c:?}");
            // base64 of `${jndi:ldap://x}`, no padding: only letters and digits.
            assert!(may_match(c, b"JHtqbmRpOmxkYXA6Ly94fQ"), "{c:?}");
        }
        assert!(may_match(Class::Sqli, b"1--"));
        for v in [&b"127.0.0.1"[..], b" 0.0.0.0. ", b"localhost:80", b"localhost?x", b"localhost#x", b"[::1]", b"//a"] {
            assert!(may_match(Class::Ssrf, v), "{:?}", String::from_utf8_lossy(v));
        }
        assert!(may_match(Class::Xxe, b"<!DOCTYPE") && may_match(Class::Xxe, b"<xi:include"));
        assert!(may_match(Class::Cmdi, b"whoami"));
        assert!(may_match(Class::Cmdi, b"WhoAmI.exe"));
        assert!(may_match(Class::PathTraversal, b"id_rsa"));
        assert!(may_match(Class::PathTraversal, b"..%2f"));
        assert!(may_match(Class::PathTraversal, b"..passwd"));
        assert!(may_match(Class::PathTraversal, b"WIN.INI") && may_match(Class::PathTraversal, b".env"));
        assert!(may_match(Class::PathTraversal, b"see ../x") && may_match(Class::PathTraversal, b"a .. b"));
        assert!(may_match(Class::NoSqli, br#"{"user":{"$ne":null}}"#));
        assert!(may_match(Class::NoSqli, b"'; return true; var a='"));
        assert!(may_match(Class::ProtoPollution, b"a[__PROTO__][x]=1"));
        assert!(may_match(Class::ProtoPollution, b"%5f%5fproto%5f%5f"));
    }

    #[test]
    fn the_shared_answer_is_the_per_class_answer() {
        let classes = Class::ALL;
        let values: [&[u8]; 12] = [
            b"",
            b"hello",
            b"1--",
            b"whoami",
            b"id_rsa",
            b"__PROTO__",
            b"123",
            b"a%27",
            b"JHtqbmRpOmxkYXA6Ly94fQ",
            b"x y",
            b"127.0.0.1",
            b"<!x",
        ];
        for v in values {
            // asked in both orders: each class is decided on its own
            let (mut fwd, mut rev) = (Classes::of(v), Classes::of(v));
            for c in classes {
                assert_eq!(fwd.may_match(c, v), may_match(c, v), "{c:?} on {:?}", String::from_utf8_lossy(v));
            }
            for c in classes.iter().rev() {
                assert_eq!(rev.may_match(*c, v), may_match(*c, v), "{c:?} on {:?}", String::from_utf8_lossy(v));
            }
            // every class at once, also after some were asked
            for mut all in [Classes::of(v), fwd] {
                let mask = all.mask(v);
                for c in classes {
                    assert_eq!(
                        mask & class_bit(c) != 0,
                        may_match(c, v),
                        "mask: {c:?} on {:?}",
                        String::from_utf8_lossy(v)
                    );
                }
            }
        }
    }

    /// The byte pass's answer to the base64 test (`Classes::of` sets `base64` to `Some(false)` for a byte
    /// outside both alphabets or unmixed letters and digits) never says no where `base64_payload` says yes: on
    /// base64 of text in both alphabets, padded or not, with surrounding whitespace and a stray byte, and on
    /// every string of up to five bytes over the bytes that matter.
    #[test]
    fn the_byte_pass_rules_out_base64_only_where_base64_payload_does() {
        let check = |v: &[u8]| {
            if Classes::of(v).base64 == Some(false) {
                assert!(base64_payload(v).is_none(), "ruled out, but base64 of text: {:?}", String::from_utf8_lossy(v));
            }
            // the test the classes run when asked (from the byte pass's kinds on an all-alphabet value)
            assert_eq!(
                Classes::of(v).is_base64(v),
                base64_payload(v).is_some(),
                "is_base64 on {:?}",
                String::from_utf8_lossy(v)
            );
        };
        let encode = |text: &[u8], url: bool, pad: bool| {
            let abc: &[u8] = if url {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            } else {
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
            };
            let mut out = Vec::new();
            for chunk in text.chunks(3) {
                let n = chunk.iter().enumerate().fold(0u32, |acc, (k, &b)| acc | (u32::from(b) << (16 - 8 * k)));
                for k in 0..=chunk.len() {
                    out.push(abc[(n >> (18 - 6 * k)) as usize & 63]);
                }
                if pad {
                    out.extend(std::iter::repeat_n(b'=', 3 - chunk.len()));
                }
            }
            out
        };
        let texts: [&[u8]; 8] = [
            b"${jndi:ldap://x/a}",
            b"cat /etc/passwd",
            b"<script>alert(1)</script>",
            b"{\"user\":\"admin\"}",
            b"1' OR '1'='1",
            b"hello world, this is text",
            b"~~~~ ???? >>>>",
            b"ab",
        ];
        let mut seen_yes = 0;
        for t in texts {
            for (url, pad) in [(false, false), (false, true), (true, false), (true, true)] {
                let e = encode(t, url, pad);
                for v in [e.clone(), [b" \t".as_slice(), &e, b"\r\n\x0c "].concat(), [&e[..], b"."].concat()] {
                    seen_yes += usize::from(base64_payload(&v).is_some());
                    check(&v);
                }
            }
        }
        assert!(seen_yes >= 32, "the fixtures reach the accepting path ({seen_yes})");
        let bytes = b"aZ09+/-_= \t.%\x80";
        let mut v = Vec::new();
        for n in 0..=5u32 {
            for code in 0..(bytes.len() as u32).pow(n) {
                let mut c = code;
                v.clear();
                for _ in 0..n {
                    v.push(bytes[(c % bytes.len() as u32) as usize]);
                    c /= bytes.len() as u32;
                }
                check(&v);
                check(&[&b"JHtqbmRp"[..], &v].concat());
            }
        }
        // all-alphabet values past the length checks (ids, tokens, names, and base64 of text with a byte
        // changed), where `is_base64` starts from the byte pass's kinds: the decoder's every exit
        let mut next = crate::test_util::xorshift(0x9e37_79b9_7f4a_7c15);
        let pools: [&[u8]; 4] =
            [b"0123456789abcdef-", b"aZ09+/-_", b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", b"Ab3/+-"];
        for _ in 0..200_000 {
            let pool = pools[(next() % 4) as usize];
            let mut v: Vec<u8> = (0..next() % 48).map(|_| pool[(next() % pool.len() as u64) as usize]).collect();
            check(&v);
            let e = encode(&v, next().is_multiple_of(2), false);
            check(&e);
            if !e.is_empty() {
                let at = (next() % e.len() as u64) as usize;
                v = e;
                v[at] = pool[(next() % pool.len() as u64) as usize];
                check(&v);
            }
        }
        assert_eq!(Classes::of(b"application/json").base64, Some(false), "one letter kind");
        assert_eq!(Classes::of(b"anchor-bench/1.0 (wrk)").base64, Some(false), "a byte outside the alphabets");
        assert_eq!(Classes::of(b"X-Request-Id").base64, None, "left to the decoder");
    }

    /// `passed_so_far(Ssrf)` false must prove there is no `:` (`@detectAny`'s URL-only SSRF relies on it).
    #[test]
    fn no_ssrf_byte_means_no_colon() {
        for b in 0..=255u8 {
            for v in [vec![b], vec![b'a', b, b'/', b'/'], vec![b'x'; 9].into_iter().chain([b]).collect()] {
                let mut c = Classes::of(&v);
                if !c.passed_so_far(Class::Ssrf) {
                    assert!(!v.contains(&b':'), "{v:?}");
                }
                for class in Class::ALL {
                    c.may_match(class, &v);
                }
                assert!(c.passed_so_far(Class::Ssrf) || !v.contains(&b':'), "{v:?}");
            }
        }
    }

    #[test]
    fn contains_ci_finds_the_needle_in_any_case_and_place() {
        for (v, want) in [
            (&b"proto"[..], true),
            (b"__PROTO__", true),
            (b"a[__pRoTo__]", true),
            (b"xxprot", false),
            (b"ppproto", true),
            (b"prot o", false),
            (b"", false),
            (b"constructor.prototype", true),
        ] {
            assert_eq!(contains_ci(v, b"proto"), want, "{:?}", String::from_utf8_lossy(v));
            let slow = v.windows(5).any(|w| w.eq_ignore_ascii_case(b"proto"));
            assert_eq!(contains_ci(v, b"proto"), slow);
        }
    }

    #[test]
    fn words_that_are_no_command_or_sensitive_name_are_skipped() {
        for v in [&b"hello"[..], b"alice.example", b"CorrectHorseBatteryStaple2024", b"en-GB", b"totp", b"3.14.2"] {
            assert!(!may_match(Class::Cmdi, v), "{:?}", String::from_utf8_lossy(v));
        }
        for v in [&b"hello"[..], b"passwd", b"CorrectHorseBatteryStaple2024", b"en-GB", b"totp"] {
            assert!(!may_match(Class::PathTraversal, v), "{:?}", String::from_utf8_lossy(v));
        }
        // Dotted words (JSON argument names, versions, host-like names) are no path to the detector either.
        for v in [&b"json.client.app"[..], b"alice.example", b"3.14.2", b"passwd.bak", b"my.env", b"id_rsa.pub.x"] {
            assert!(!may_match(Class::PathTraversal, v), "{:?}", String::from_utf8_lossy(v));
            assert!(crate::traversal::detect(v).is_none(), "{:?}", String::from_utf8_lossy(v));
        }
        // A JSON login body has no operator key and no JavaScript; its keys reach no prototype.
        let login = br#"{"username":"alice","password":"x y","client":{"app":"web"},"mfa":{"code":"492031"}}"#;
        assert!(!may_match(Class::NoSqli, login));
        assert!(!may_match(Class::ProtoPollution, login));
        assert!(!may_match(Class::ProtoPollution, b"username"));
    }
}
