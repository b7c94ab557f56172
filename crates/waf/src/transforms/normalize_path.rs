//! `normalizePath` (alias `normalisePath`): collapses repeated slashes and resolves `.` and `..` segments.
//!
//! This follows ModSecurity's in-place normaliser step for step rather than a textbook path cleaner,
//! because its corner cases are what rules were tuned against:
//! - a relative path keeps the `..` segments that would climb above its start (`../a` stays);
//!   an absolute path cannot climb above `/`;
//! - a trailing slash is kept only if the input had one;
//! - a segment that merely ends in `..` (`a../`) is treated as a back-reference, like ModSecurity does.
//!
//! The Windows variant (`normalizePathWin`) shares this code with backslashes treated as separators.

use std::borrow::Cow;

pub(crate) fn normalize_path(input: &[u8]) -> Cow<'_, [u8]> {
    normalize(input, false)
}

/// Fast check: a path with no `//`, no segment ending in `.` and (Windows) no backslash is left as is.
fn may_change(input: &[u8], win: bool) -> bool {
    let n = input.len();
    input.iter().enumerate().any(|(k, &b)| match b {
        b'\\' => win,
        b'/' => k + 1 < n && (input[k + 1] == b'/' || (win && input[k + 1] == b'\\')),
        b'.' => k + 1 == n || input[k + 1] == b'/' || (win && input[k + 1] == b'\\'),
        _ => false,
    })
}

pub(crate) fn normalize(input: &[u8], win: bool) -> Cow<'_, [u8]> {
    if input.is_empty() || !may_change(input, win) {
        return Cow::Borrowed(input);
    }
    let is_sep = |c: u8| c == b'/' || (win && c == b'\\');
    // The algorithm rewrites in place: the write cursor `dst` never passes the read cursor `src`.
    let mut buf = input.to_vec();
    let end = buf.len() - 1;
    let relative = !is_sep(buf[0]);
    let trailing = is_sep(buf[end]);
    let mut src = 0usize;
    let mut dst = 0usize;
    let mut hit_root = false;
    let mut done = false;

    while !done && src <= end && dst <= end {
        if win {
            if buf[src] == b'\\' {
                buf[src] = b'/';
            }
            if src < end && buf[src + 1] == b'\\' {
                buf[src + 1] = b'/';
            }
        }

        // Normalise only at the end of a segment (next byte is `/`) or at the end of the input.
        let mut skip_copy = false;
        let at_segment_end = if src == end {
            done = true;
            true
        } else {
            buf[src + 1] == b'/'
        };
        if at_segment_end && !(src != end && buf[src] == b'/') {
            if buf[src] == b'.' {
                if dst > 0 && buf[dst - 1] == b'.' {
                    // `..`: drop it and the previous segment, unless a relative path has nothing left to drop.
                    if relative && (hit_root || dst <= 2) {
                        hit_root = true;
                    } else {
                        // Back over "..", then to the previous `/` (ModSecurity steps back three bytes).
                        let mut d = dst as isize - 3;
                        while d > 0 && buf[d as usize] != b'/' {
                            d -= 1;
                        }
                        if d <= 0 {
                            hit_root = true;
                            d = 0;
                            if !relative && src == end {
                                d = 1;
                            }
                        }
                        dst = d as usize;
                        if done {
                            skip_copy = true;
                        } else {
                            src += 1;
                        }
                    }
                } else if dst == 0 {
                    // `.` at the start of a relative path.
                    if done {
                        skip_copy = true;
                    } else {
                        src += 1;
                    }
                } else if buf[dst - 1] == b'/' {
                    // `/./`
                    if done {
                        skip_copy = true;
                    } else {
                        dst -= 1;
                        src += 1;
                    }
                }
            } else if dst > 0 {
                hit_root = false;
            }
        }

        if !skip_copy {
            let mut emit = true;
            if buf[src] == b'/' {
                // Keep only the last of a run of separators.
                while src < end && is_sep(buf[src + 1]) {
                    src += 1;
                }
                // A relative path never starts with `/`.
                if relative && dst == 0 {
                    src += 1;
                    emit = false;
                }
            }
            if emit {
                buf[dst] = buf[src];
                dst += 1;
                src += 1;
            }
        }
    }

    if !trailing && dst > 0 && buf[dst - 1] == b'/' {
        dst -= 1;
    }
    buf.truncate(dst);
    if buf == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(buf)
    }
}
