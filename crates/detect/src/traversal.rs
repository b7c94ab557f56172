//! Path traversal and local file inclusion: the value is normalised the way a file layer would see it
//! (percent, `%u`, overlong UTF-8 and full-width decoding, `\` as `/`), then read as a path: parent steps
//! (`..`, `....`, `..;`), where they start, what they reach (sensitive files and directories), PHP stream
//! wrappers, `file://`, UNC paths and NUL-byte truncation.
//!
//! Decisions, to keep prose and relative links passing:
//! - two or more consecutive parent steps (`../../`) are traversal anywhere;
//! - one parent step counts only at the start of the value (`../config.php`: the value itself climbs) or
//!   when the path after it names a sensitive target (`images/../.env`); a single `../` inside prose
//!   (`see ../docs/setup.md`) is a relative link and passes;
//! - an absolute sensitive path (`/etc/passwd`, `C:\Windows\win.ini`) counts when it starts the value or the
//!   value is one path-like token (no whitespace); in prose (`how do I read /etc/passwd?`) it passes.
//!
//! Owns: the path view of a value. Must not touch: SSRF URL analysis (`ssrf`), command context (`cmdi`).

use crate::{decode, Class, Finding};

/// Sensitive targets, lowercase, with `/` separators, matched at a segment start. A trailing `/` means "this
/// directory"; otherwise the name must end at a segment end.
const SENSITIVE: &[&str] = &[
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/hosts",
    "etc/issue",
    "etc/motd",
    "etc/hostname",
    "etc/crontab",
    "etc/sudoers",
    "etc/resolv.conf",
    "etc/fstab",
    "etc/profile",
    "etc/apache2/",
    "etc/httpd/",
    "etc/nginx/",
    "etc/mysql/",
    "etc/ssh/",
    "etc/security/",
    "etc/init.d/",
    "proc/self/",
    "proc/version",
    "proc/cpuinfo",
    "proc/net/",
    "proc/1/",
    "var/log/",
    "var/run/secrets/",
    ".ssh/",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "authorized_keys",
    ".bash_history",
    ".bashrc",
    ".aws/credentials",
    ".docker/config.json",
    ".kube/config",
    ".htpasswd",
    ".htaccess",
    ".git/",
    ".svn/",
    ".env",
    "web-inf/",
    "meta-inf/",
    "wp-config.php",
    "win.ini",
    "boot.ini",
    "system.ini",
    "windows/system32/",
    "windows/repair/",
    "windows/system.ini",
    "winnt/",
    "inetpub/",
    "system32/",
    "config/sam",
];

/// Does `word` (a value without `.`, `/`, `:`, `~` or escapes) contain a sensitive name that needs none of
/// those (`id_rsa`, `authorized_keys`)? Everything else the detector reports needs one of those bytes: the
/// prefilter's question for one-word values (`crate::prefilter`).
pub(crate) fn may_name_sensitive(word: &[u8]) -> bool {
    // Those names all hold a `_` (`id_rsa`, `authorized_keys`; checked in the tests): one scan rejects most
    // words before any name is compared.
    if !word.contains(&b'_') {
        return false;
    }
    bare_sensitive_names()
        .iter()
        .any(|n| word.len() >= n.len() && word.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n)))
}

/// Can the detector report a value made only of letters, digits, `_`, `.` and `-` (no escape the decoders
/// undo, no `/`, `:` or `~`)? Only through a parent step at its start (`..`: no byte before it can be a
/// boundary) or by the whole value being a sensitive name (nothing before or after it can end a segment): the
/// prefilter's question for one-word values such as JSON argument names (`crate::prefilter`).
pub(crate) fn may_fire_on_word(word: &[u8]) -> bool {
    let Some(&first) = word.first() else { return false };
    // Only the names starting with the word's first byte (`SENSITIVE` is lowercase): one or two, not all 55.
    word.starts_with(b"..")
        || sensitive_by_first_byte()[usize::from(first.to_ascii_lowercase())]
            .iter()
            .any(|n| n.len() == word.len() && n.as_bytes().eq_ignore_ascii_case(word))
}

/// The [`SENSITIVE`] names grouped by their first byte, built once.
fn sensitive_by_first_byte() -> &'static [Vec<&'static str>] {
    static BY_FIRST: std::sync::OnceLock<Vec<Vec<&'static str>>> = std::sync::OnceLock::new();
    BY_FIRST.get_or_init(|| {
        let mut t = vec![Vec::new(); 256];
        for name in SENSITIVE {
            t[usize::from(name.as_bytes()[0])].push(*name);
        }
        t
    })
}

/// The [`SENSITIVE`] names that need no `.`, `/`, `:` or `~`, listed once.
fn bare_sensitive_names() -> &'static [&'static [u8]] {
    static NAMES: std::sync::OnceLock<Vec<&'static [u8]>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        SENSITIVE
            .iter()
            .map(|n| n.as_bytes())
            .filter(|n| !n.iter().any(|b| matches!(b, b'.' | b'/' | b':' | b'~')))
            .collect()
    })
}

/// PHP/Java stream wrappers that read or execute local resources.
const WRAPPERS: &[&str] = &[
    "php://filter",
    "php://input",
    "php://fd",
    "php://memory",
    "php://temp",
    "expect://",
    "phar://",
    "zip://",
    "compress.zlib://",
    "compress.bzip2://",
    "glob://",
    "data://",
    "file://",
    "file:/",
    "jar:file:",
    "netdoc:/",
];

/// Analyses `input` for path traversal / LFI.
///
/// ```
/// use portcullis_detect::traversal::detect;
/// assert!(detect(b"..%252f..%252f..%252fetc%252fpasswd").is_some());
/// assert!(detect(b"docs/guide/intro.md").is_none());
/// ```
pub fn detect(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, detect_plain)
}

/// [`detect`] on a value that is its own only form (see the crate docs, "Own-form entry points").
#[doc(hidden)]
pub fn detect_own_form(input: &[u8]) -> Option<Finding> {
    if !may_fire_plain(input) {
        return None;
    }
    analyse(input)
}

/// Can [`analyse`] report `v` at all? `false` only when it provably cannot: one pass over the bytes, which the
/// gate's benign values (paths, User-Agents, ids) leave after a few table loads, instead of the copy, the
/// lowercasing and the five scans of [`analyse_lower`].
///
/// On a value of printable ASCII without `\` (anything else answers "maybe": look-alikes, NUL and `\` change
/// the normalised value), each finding needs bytes of its own in the value: a stream wrapper a `:`, a parent
/// step `..`, a UNC path `//`, and a sensitive name ([`SENSITIVE`], matched on the lowercased value) its
/// [`sensitive_grams`] gram, three bytes holding a `/`, `.` or `_`, so found among the windows around those bytes.
fn may_fire_plain(v: &[u8]) -> bool {
    let grams = sensitive_grams();
    for (i, &b) in v.iter().enumerate() {
        match PLAIN_BYTE[usize::from(b)] {
            PLAIN => {}
            GRAM_BYTE => {
                if b != b'_' && v.get(i + 1) == Some(&b) {
                    return true;
                }
                // the windows of three bytes holding this one
                for s in i.saturating_sub(2)..=i {
                    if let Some(w) = v.get(s..s + 3) {
                        if grams.may_hold(gram_key(w)) {
                            return true;
                        }
                    }
                }
            }
            _ => return true,
        }
    }
    false
}

/// [`may_fire_plain`]'s byte kinds: printable ASCII it passes over, the bytes grams are found around, and the
/// bytes that answer "maybe" at once (`:`, `\`, controls, DEL and non-ASCII).
const PLAIN: u8 = 0;
const GRAM_BYTE: u8 = 1;
const MAYBE: u8 = 2;
static PLAIN_BYTE: [u8; 256] = {
    let mut t = [MAYBE; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = match b as u8 {
            b'/' | b'.' | b'_' => GRAM_BYTE,
            b':' | b'\\' => MAYBE,
            _ => PLAIN,
        };
        b += 1;
    }
    t
};

/// A window's key: its three bytes, each with bit 0x20 set (ASCII lowercasing for letters; the same mapping on
/// the names' grams, so a key may stand for a few byte triples, never fewer).
fn gram_key(w: &[u8]) -> u32 {
    u32::from_be_bytes([0, w[0], w[1], w[2]]) | 0x0020_2020
}

/// A bit set of hashed gram keys: a key's bit set when some gram hashes there (a false "maybe" only costs the
/// analysis).
struct GramFilter([u64; 64]);

impl GramFilter {
    fn slot(key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B1) >> 20) as usize
    }

    fn may_hold(&self, key: u32) -> bool {
        let s = Self::slot(key);
        self.0[s / 64] & (1 << (s % 64)) != 0
    }
}

/// One three-byte gram of every [`SENSITIVE`] name, its first window holding a `/`, `.` or `_` (every name has
/// one: checked in the tests), as [`gram_key`]s in a [`GramFilter`].
fn sensitive_grams() -> &'static GramFilter {
    static GRAMS: std::sync::OnceLock<GramFilter> = std::sync::OnceLock::new();
    GRAMS.get_or_init(|| {
        let mut f = GramFilter([0; 64]);
        for n in SENSITIVE {
            let w = n
                .as_bytes()
                .windows(3)
                .find(|w| w.iter().any(|b| matches!(b, b'/' | b'.' | b'_')))
                .expect("every sensitive name holds a `/`, `.` or `_` and three bytes");
            let s = GramFilter::slot(gram_key(w));
            f.0[s / 64] |= 1 << (s % 64);
        }
        f
    })
}

/// [`detect`] with the byte-at-a-time normalisation and segment scan it used before their fast paths
/// (`normalise_lowercase_bytewise`, `sensitive_hits_bytewise`), kept public so tests can check that the fast
/// paths never change an answer (`tests/prefilter_necessary.rs`).
#[doc(hidden)]
pub fn detect_reference(input: &[u8]) -> Option<Finding> {
    crate::decode::or_base64(input, |v| {
        analyse_lower(&normalise_lowercase_bytewise(&decode::deep(v)), sensitive_hits_bytewise)
    })
}

/// [`detect`] without the base64 layer.
fn detect_plain(input: &[u8]) -> Option<Finding> {
    analyse(&decode::deep(input))
}

/// Longest value normalised on the stack (no allocation) by [`analyse`].
const STACK_MAX: usize = 256;

/// The detection proper, on the deep-decoded value.
fn analyse(decoded: &[u8]) -> Option<Finding> {
    // The common case (no `\`, no look-alike lead byte, short): the normalisation is ASCII lowercasing, into
    // a buffer on the stack.
    if decoded.len() <= STACK_MAX && memchr::memchr3(0xEF, 0xE2, b'\\', decoded).is_none() {
        let mut buf = [0u8; STACK_MAX];
        let lower = &mut buf[..decoded.len()];
        lower.copy_from_slice(decoded);
        lower.make_ascii_lowercase();
        return analyse_lower(lower, sensitive_hits);
    }
    analyse_lower(&normalise_lowercase(decoded), sensitive_hits)
}

/// [`analyse`] on the value normalised ([`normalise_lowercase`]), with the sensitive-name scan given (the
/// fast one, or the reference).
fn analyse_lower(lower: &[u8], sensitive_hits: fn(&[u8]) -> Vec<(usize, &'static str)>) -> Option<Finding> {
    // One token, not text: no whitespace and no `+` (a form-encoded space left in cookies and headers).
    let path_like = !lower.iter().any(|&b| b.is_ascii_whitespace() || b == b'+');

    if let Some(f) = wrapper(lower) {
        return Some(f);
    }
    if let Some(f) = parents(lower, sensitive_hits) {
        return Some(f);
    }
    if let Some(f) = unc(lower) {
        return Some(f);
    }
    if let Some(pos) = lower.iter().position(|&b| b == 0) {
        // `file.php\0.jpg`: a name, a NUL, then an extension the filter was meant to see.
        let before = &lower[..pos];
        let after = &lower[pos + 1..];
        if path_like && !before.is_empty() && before.iter().all(|&b| is_path_byte(b)) && after.first() == Some(&b'.') {
            return Some(finding("NUL byte truncating a file name", pos..pos + 1, "nul"));
        }
    }
    for (at, name) in sensitive_hits(lower) {
        // In prose, a bare file name (`system.ini? no such thing`) is a word; a path is not.
        let is_path = name.contains('/') || (at > 0 && lower[at - 1] == b'/');
        // In prose only a directory path counts (`/etc/passwd is...`), not a dotfile (`~/.bashrc example`).
        // In prose the path must also be anchored (`/etc/hosts`, `C:\...`): a relative `etc/hosts file` in a
        // search is words, and no file API resolves it to the system file.
        let prefix = &lower[..at];
        let anchored = prefix.contains(&b'/') || drive_prefix(prefix);
        let start_of_value = is_path
            && (path_like || (name.contains('/') && anchored))
            && (prefix.iter().all(|&b| matches!(b, b'/' | b' ' | b'"' | b'\'' | b'.' | b'~')) || drive_prefix(prefix));
        if start_of_value || path_like {
            return Some(finding(&format!("path to sensitive file {name}"), at..at + name.len(), name));
        }
    }
    None
}

fn finding(reason: &str, span: std::ops::Range<usize>, sig: &str) -> Finding {
    Finding { class: Class::PathTraversal, reason: reason.to_string(), span, signature: sig.to_string() }
}

/// `\` → `/`, full-width and other look-alike dots and slashes → ASCII (IIS best-fit mapping), and ASCII
/// letters lowercased, in one copy. Most values hold no `\` and no byte a look-alike starts with (0xEF,
/// 0xE2): for them the mapping is ASCII lowercasing alone, done a word at a time by the standard library.
fn normalise_lowercase(b: &[u8]) -> Vec<u8> {
    if memchr::memchr3(0xEF, 0xE2, b'\\', b).is_none() {
        return b.to_ascii_lowercase();
    }
    normalise_lowercase_bytewise(b)
}

/// [`normalise_lowercase`] byte by byte: the mapping itself, and the reference of its fast path.
fn normalise_lowercase_bytewise(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        // Every look-alike below is three bytes starting 0xEF or 0xE2: other bytes skip the comparisons.
        let mapped = if !matches!(b[i], 0xEF | 0xE2) {
            None
        } else if rest.starts_with("\u{FF0E}".as_bytes()) || rest.starts_with("\u{2024}".as_bytes()) {
            Some((b'.', 3))
        } else if rest.starts_with("\u{FF0F}".as_bytes())
            || rest.starts_with("\u{2215}".as_bytes())
            || rest.starts_with("\u{2044}".as_bytes())
            || rest.starts_with("\u{FF3C}".as_bytes())
            || rest.starts_with("\u{2216}".as_bytes())
            || rest.starts_with("\u{FE68}".as_bytes())
        {
            Some((b'/', 3))
        } else {
            None
        };
        if let Some((c, n)) = mapped {
            out.push(c);
            i += n;
            continue;
        }
        out.push(if b[i] == b'\\' { b'/' } else { b[i].to_ascii_lowercase() });
        i += 1;
    }
    out
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~' | b':')
}

/// Bytes that may stand right before a path segment (start of a token).
const fn is_boundary(b: u8) -> bool {
    matches!(b, b'/' | b'=' | b'?' | b'&' | b'"' | b'\'' | b':' | b'(' | b',' | b'[' | b'<' | b'>' | b'|' | b';')
        || b.is_ascii_whitespace()
}

/// [`is_boundary`] of every byte, built at compile time.
static BOUNDARY: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = is_boundary(b as u8);
        b += 1;
    }
    t
};

fn drive_prefix(b: &[u8]) -> bool {
    let t = b.trim_ascii_start();
    t.len() >= 2 && t[0].is_ascii_alphabetic() && t[1] == b':' && t[2..].iter().all(|&c| c == b'/')
}

/// A parent step starting at `i`: two or more dots, then optional `;params` (Tomcat `..;/`), ending at `/`
/// or the end. Returns the index of the `/` (or the end).
fn parent_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && !is_boundary(b[i - 1]) {
        return None;
    }
    let dots = b[i..].iter().take_while(|&&c| c == b'.').count();
    if dots < 2 {
        return None;
    }
    let mut j = i + dots;
    if b.get(j) == Some(&b';') {
        // Path parameters are short (`;jsessionid=...`); bounded so runs of `..;` stay linear.
        let limit = (j + 48).min(b.len());
        while j < limit && b[j] != b'/' {
            j += 1;
        }
        if j == limit && limit < b.len() {
            return None;
        }
    }
    // Trailing NUL or spaces a lenient file API strips.
    while j < b.len() && (b[j] == 0 || b[j] == b' ') && b.get(j + 1).is_none_or(|&c| c == b'/') {
        j += 1;
    }
    (j == b.len() || b[j] == b'/').then_some(j)
}

fn parents(b: &[u8], sensitive_hits: fn(&[u8]) -> Vec<(usize, &'static str)>) -> Option<Finding> {
    let mut i = 0;
    while i < b.len() {
        // every step starts at a dot: jump to the next one
        match memchr::memchr(b'.', &b[i..]) {
            Some(p) => i += p,
            None => break,
        }
        let Some(end) = parent_at(b, i) else {
            i += b[i..].iter().take_while(|&&c| c == b'.').count();
            continue;
        };
        // Count the run of consecutive parent steps from here.
        let start = i;
        let mut steps = 1;
        let mut j = end;
        loop {
            while j < b.len() && b[j] == b'/' {
                j += 1;
            }
            match (j < b.len()).then(|| parent_at(b, j)).flatten() {
                Some(e) => {
                    steps += 1;
                    j = e;
                }
                None => break,
            }
        }
        let at_value_start =
            b[..start].iter().all(|&c| matches!(c, b'/' | b' ' | b'"' | b'\'')) || b[..start].ends_with(b"=");
        let rest = &b[j.min(b.len())..];
        let rest = &rest[rest.iter().take_while(|&&c| c == b'/').count()..];
        // The target is near: bound the look-ahead so many isolated steps stay linear.
        let rest = &rest[..rest.len().min(256)];
        let rest_token_end = rest.iter().position(|c| c.is_ascii_whitespace()).unwrap_or(rest.len());
        let target = sensitive_hits(&rest[..rest_token_end]).into_iter().next().map(|(_, n)| n);
        let climbs_into_something = rest.first().is_some_and(|&c| c != b'/' && !c.is_ascii_whitespace());
        if steps >= 2 || (at_value_start && climbs_into_something) || target.is_some() {
            let reason = match target {
                Some(t) => format!("{steps} parent directory step(s) reaching {t}"),
                None => format!("{steps} parent directory step(s)"),
            };
            return Some(finding(&reason, start..j, "../"));
        }
        i = j.max(i + 1);
    }
    None
}

/// Sensitive names at a segment start, with their position. One pass over segment starts (the value's start
/// and the byte after each boundary byte, in order); each start is compared only with the names beginning
/// with its byte (in [`SENSITIVE`]'s order, so the hits are the same as comparing every name at every
/// offset: [`sensitive_hits_bytewise`]).
fn sensitive_hits(b: &[u8]) -> Vec<(usize, &'static str)> {
    let by_first = sensitive_by_first_byte();
    let mut hits: Vec<(usize, &'static str)> = Vec::new();
    let starts =
        std::iter::once(0).chain(b.iter().enumerate().filter(|(_, &c)| BOUNDARY[usize::from(c)]).map(|(i, _)| i + 1));
    for at in starts.take_while(|&at| at < b.len()) {
        if !sensitive_at(b, at, &by_first[usize::from(b[at])], &mut hits) {
            break;
        }
    }
    hits
}

/// [`sensitive_hits`] trying every offset: the reference of its scan over segment starts.
fn sensitive_hits_bytewise(b: &[u8]) -> Vec<(usize, &'static str)> {
    let by_first = sensitive_by_first_byte();
    let mut hits: Vec<(usize, &'static str)> = Vec::new();
    for at in 0..b.len() {
        if at > 0 && !is_boundary(b[at - 1]) {
            continue;
        }
        if !sensitive_at(b, at, &by_first[usize::from(b[at])], &mut hits) {
            break;
        }
    }
    hits
}

/// Adds the `names` (those starting with `b[at]`) found at segment start `at` to `hits`, once each; `false`
/// when four hits are reached (the scan stops there).
fn sensitive_at(b: &[u8], at: usize, names: &[&'static str], hits: &mut Vec<(usize, &'static str)>) -> bool {
    if names.is_empty() {
        return true;
    }
    for name in names {
        let n = name.as_bytes();
        if !b[at..].starts_with(n) || hits.iter().any(|(_, h)| h == name) {
            continue;
        }
        let end = at + n.len();
        let ends = n.ends_with(b"/")
            || end == b.len()
            || matches!(b[end], b'/' | b'?' | b'#' | b'&' | b'"' | b'\'' | 0 | b';' | b'%')
            || b[end].is_ascii_whitespace();
        if ends {
            hits.push((at, *name));
        }
    }
    hits.len() < 4
}

fn wrapper(b: &[u8]) -> Option<Finding> {
    // Every wrapper has a `:`; compare around each colon only.
    for (colon, _) in b.iter().enumerate().filter(|(_, &c)| c == b':') {
        for w in WRAPPERS {
            let wb = w.as_bytes();
            let k = wb.iter().position(|&c| c == b':').unwrap_or(0);
            let (scheme, rest) = (&wb[..k], &wb[k..]);
            if colon < scheme.len() || &b[colon - scheme.len()..colon] != scheme || !b[colon..].starts_with(rest) {
                continue;
            }
            let at = colon - scheme.len();
            if at > 0 && b[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            // `file:/` in prose ("a file:/ path") needs a path after it.
            let after = &b[at + wb.len()..];
            if w.starts_with("file:") && !after.first().is_some_and(|&c| c == b'/' || c.is_ascii_alphanumeric()) {
                continue;
            }
            let name = w.trim_end_matches('/');
            return Some(finding(&format!("stream wrapper {name}"), at..at + wb.len(), name));
        }
    }
    None
}

/// `\\host\share\...` (UNC) at the start of the value; backslashes are already `/`.
fn unc(b: &[u8]) -> Option<Finding> {
    let t = b.trim_ascii_start();
    let off = b.len() - t.len();
    if t.len() > 3 && t.starts_with(b"//") && (t[2].is_ascii_alphanumeric() || t[2] == b'?' || t[2] == b'.') {
        let host_end = t[2..].iter().position(|&c| c == b'/').map(|p| p + 2)?;
        let host = &t[2..host_end];
        // A protocol-relative URL (`//cdn.example.com/x`) is for the SSRF detector; UNC hosts are single
        // labels, IPs, `?`/`.` device paths, or followed by a share name with `$`.
        let share_end = t[host_end + 1..].iter().position(|&c| c == b'/').map_or(t.len(), |p| p + host_end + 1);
        let share = &t[host_end + 1..share_end];
        let unc_host = host == b"?"
            || host == b"."
            || !host.contains(&b'.')
            || share.ends_with(b"$")
            || host.iter().all(|c| c.is_ascii_digit() || *c == b'.');
        if unc_host && (b[..off].is_empty() || b.iter().all(|c| !c.is_ascii_whitespace())) {
            return Some(finding("UNC path", off..off + host_end, "unc"));
        }
    }
    None
}

/// First occurrence of `needle` in `hay`: scans for the needle's first byte, then compares (shared by the
/// detectors; linear for the short needles they use).
pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    if hay.len() < needle.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        i += hay[i..=last_start].iter().position(|&c| c == first)?;
        if &hay[i + 1..i + needle.len()] == rest {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_sensitive_names_hold_an_underscore() {
        // `may_name_sensitive` rejects words without `_` before comparing names.
        assert!(!bare_sensitive_names().is_empty());
        assert!(bare_sensitive_names().iter().all(|n| n.contains(&b'_')));
        assert!(may_name_sensitive(b"backup_ID_RSA"));
        assert!(!may_name_sensitive(b"under_score"));
    }

    /// `may_fire_plain` never says no where `analyse` finds something: every string of up to four atoms over
    /// the bytes and words the analysis reacts to (wrapper schemes, parent steps, separators, every sensitive
    /// name in either case, prose), and 50,000 random strings of up to eight atoms.
    #[test]
    fn the_plain_pretest_is_necessary() {
        let mut atoms: Vec<Vec<u8>> = [
            "/",
            ".",
            "..",
            "_",
            ":",
            "//",
            "\\",
            " ",
            "a",
            "X",
            "=",
            ";",
            "~",
            "\0",
            "php:",
            "file:",
            "jar:file:",
            "c:",
            "?",
            "-",
            "1",
        ]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect();
        for n in SENSITIVE {
            atoms.push(n.as_bytes().to_vec());
            atoms.push(n.to_ascii_uppercase().into_bytes());
        }
        let check = |v: &[u8]| {
            if analyse(v).is_some() {
                assert!(may_fire_plain(v), "{:?}", String::from_utf8_lossy(v));
            }
            assert_eq!(detect_own_form(v), analyse(v), "{:?}", String::from_utf8_lossy(v));
        };
        let k = atoms.len();
        for code in 0..k * k * k {
            let (a, b, c) = (code % k, code / k % k, code / k / k);
            check(&[&atoms[a][..], &atoms[b], &atoms[c]].concat());
            check(&[&b"/"[..], &atoms[a], &atoms[b], &atoms[c]].concat());
        }
        crate::test_util::random_concatenations(&atoms, 0x9e37_79b9_7f4a_7c15, 50_000, check);
        // the benign values the gate meets most
        for v in ["/api/items", "anchor-bench/1.0 (wrk)", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0", "en-GB"] {
            assert!(!may_fire_plain(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn attacks() {
        for a in [
            "../../../../etc/passwd",
            "..\\..\\..\\windows\\win.ini",
            "..;/..;/WEB-INF/web.xml",
            "....//....//etc/passwd",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc/passwd",
            "/etc/passwd",
            "php://filter/convert.base64-encode/resource=index.php",
            "../config.php",
            "images/../.env",
            "\\\\attacker\\share\\x",
            "shell.php%00.jpg",
        ] {
            assert!(detect(a.as_bytes()).is_some(), "{a}");
        }
    }

    #[test]
    fn benign() {
        for b in [
            "docs/guide/intro.md",
            "see ../docs/setup.md for details",
            "Wait... what?",
            "how do I read /etc/passwd in python?",
            "my.env.file",
            "C:\\Users\\bob\\Documents\\report.docx",
            "https://example.com/a/b",
            "version 1.2..3",
            "~/.bashrc example",
            "~/.bashrc+example",
            "etc/hosts file windows",
        ] {
            assert!(detect(b.as_bytes()).is_none(), "{b}: {:?}", detect(b.as_bytes()));
        }
    }
}
