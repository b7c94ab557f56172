//! TEMPORARY SHIM — delete at merge with `src/transforms/`. A minimal stand-in honouring the transforms
//! contract (`lookup(name) -> Option<Transform>`, `Transform::apply(&[u8]) -> Cow<[u8]>`, borrowed when
//! unchanged) so the engine's tests run before the real transformations land. Several decoders here are
//! simplified (`cssDecode`, `utf8toUnicode` are identity; `htmlEntityDecode`/`jsDecode` cover the common
//! forms only). The engine imports it as `crate::transforms_shim as transforms`; switching to the real
//! module is a one-line change in `rule.rs`.

use std::borrow::Cow;

type F = for<'a> fn(&'a [u8]) -> Cow<'a, [u8]>;

/// A transformation function.
#[derive(Clone, Copy)]
pub struct Transform(F);

impl Transform {
    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        (self.0)(input)
    }
}

pub fn lookup(name: &str) -> Option<Transform> {
    let f: F = match name.to_ascii_lowercase().as_str() {
        "lowercase" => lowercase,
        "uppercase" => uppercase,
        "urldecode" | "urldecodeuni" => url_decode,
        "removenulls" => |i| filter(i, |b| b != 0),
        "replacenulls" => |i| map_bytes(i, |b| if b == 0 { b' ' } else { b }),
        "removewhitespace" => |i| filter(i, |b| !is_space(b)),
        "compresswhitespace" => compress_ws,
        "trim" => |i| trim(i, true, true),
        "trimleft" => |i| trim(i, true, false),
        "trimright" => |i| trim(i, false, true),
        "replacecomments" => replace_comments,
        "removecommentschar" => remove_comments_char,
        "cmdline" => cmd_line,
        "normalizepath" | "normalisepath" => |i| normalize_path(i, false),
        "normalizepathwin" | "normalisepathwin" => |i| normalize_path(i, true),
        "htmlentitydecode" => html_entity_decode,
        "jsdecode" => js_decode,
        "escapeseqdecode" => js_decode,
        "cssdecode" | "utf8tounicode" => |i| Cow::Borrowed(i),
        "base64decode" | "base64decodeext" => base64_decode,
        "sha1" => |i| Cow::Owned(<sha1::Sha1 as sha1::Digest>::digest(i).to_vec()),
        "md5" => |i| Cow::Owned(<md5::Md5 as md5::Digest>::digest(i).to_vec()),
        "hexencode" => |i| Cow::Owned(hex::encode(i).into_bytes()),
        "length" => |i| Cow::Owned(i.len().to_string().into_bytes()),
        _ => return None,
    };
    Some(Transform(f))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn map_bytes(i: &[u8], f: impl Fn(u8) -> u8) -> Cow<'_, [u8]> {
    if i.iter().all(|b| f(*b) == *b) {
        Cow::Borrowed(i)
    } else {
        Cow::Owned(i.iter().map(|b| f(*b)).collect())
    }
}

fn filter(i: &[u8], keep: impl Fn(u8) -> bool) -> Cow<'_, [u8]> {
    if i.iter().all(|b| keep(*b)) {
        Cow::Borrowed(i)
    } else {
        Cow::Owned(i.iter().copied().filter(|b| keep(*b)).collect())
    }
}

fn lowercase(i: &[u8]) -> Cow<'_, [u8]> {
    if i.iter().any(u8::is_ascii_uppercase) {
        Cow::Owned(i.to_ascii_lowercase())
    } else {
        Cow::Borrowed(i)
    }
}

fn uppercase(i: &[u8]) -> Cow<'_, [u8]> {
    if i.iter().any(u8::is_ascii_lowercase) {
        Cow::Owned(i.to_ascii_uppercase())
    } else {
        Cow::Borrowed(i)
    }
}

fn trim(i: &[u8], left: bool, right: bool) -> Cow<'_, [u8]> {
    let mut s = 0;
    let mut e = i.len();
    if left {
        while s < e && is_space(i[s]) {
            s += 1;
        }
    }
    if right {
        while e > s && is_space(i[e - 1]) {
            e -= 1;
        }
    }
    Cow::Borrowed(&i[s..e])
}

fn hexval(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn url_decode(i: &[u8]) -> Cow<'_, [u8]> {
    if !i.iter().any(|b| *b == b'%' || *b == b'+') {
        return Cow::Borrowed(i);
    }
    let mut out = Vec::with_capacity(i.len());
    let mut k = 0;
    while k < i.len() {
        match i[k] {
            b'+' => {
                out.push(b' ');
                k += 1;
            }
            b'%' if k + 5 < i.len() && (i[k + 1] == b'u' || i[k + 1] == b'U') => {
                let h: Option<Vec<u8>> = i[k + 2..k + 6].iter().map(|b| hexval(*b)).collect();
                match h {
                    Some(h) => {
                        // %uXXXX: keep the low byte, mapping the full-width ASCII range as IIS does
                        let v = ((h[0] as u32) << 12) | ((h[1] as u32) << 8) | ((h[2] as u32) << 4) | h[3] as u32;
                        let b = if (0xff01..=0xff5e).contains(&v) { (v - 0xfee0) as u8 } else { (v & 0xff) as u8 };
                        out.push(b);
                        k += 6;
                    }
                    None => {
                        out.push(b'%');
                        k += 1;
                    }
                }
            }
            b'%' if k + 2 < i.len() => match (hexval(i[k + 1]), hexval(i[k + 2])) {
                (Some(a), Some(b)) => {
                    out.push(a * 16 + b);
                    k += 3;
                }
                _ => {
                    out.push(b'%');
                    k += 1;
                }
            },
            b => {
                out.push(b);
                k += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn compress_ws(i: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(i.len());
    let mut in_ws = false;
    let mut changed = false;
    for &b in i {
        if is_space(b) {
            if in_ws || b != b' ' {
                changed = true;
            }
            if !in_ws {
                out.push(b' ');
            }
            in_ws = true;
        } else {
            out.push(b);
            in_ws = false;
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(i)
    }
}

fn replace_comments(i: &[u8]) -> Cow<'_, [u8]> {
    if !i.windows(2).any(|w| w == b"/*") {
        return Cow::Borrowed(i);
    }
    let mut out = Vec::with_capacity(i.len());
    let mut k = 0;
    while k < i.len() {
        if i[k..].starts_with(b"/*") {
            out.push(b' ');
            match i[k + 2..].windows(2).position(|w| w == b"*/") {
                Some(p) => k += 2 + p + 2,
                None => break,
            }
        } else {
            out.push(i[k]);
            k += 1;
        }
    }
    Cow::Owned(out)
}

fn remove_comments_char(i: &[u8]) -> Cow<'_, [u8]> {
    let pats: [&[u8]; 4] = [b"/*", b"*/", b"--", b"#"];
    if !pats.iter().any(|p| i.windows(p.len()).any(|w| w == *p)) {
        return Cow::Borrowed(i);
    }
    let mut out = Vec::with_capacity(i.len());
    let mut k = 0;
    'outer: while k < i.len() {
        for p in pats {
            if i[k..].starts_with(p) {
                k += p.len();
                continue 'outer;
            }
        }
        out.push(i[k]);
        k += 1;
    }
    Cow::Owned(out)
}

fn cmd_line(i: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::with_capacity(i.len());
    let mut space = false;
    for &b in i {
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b' ' | b',' | b';' | b'\t' | b'\r' | b'\n' => {
                if !space {
                    out.push(b' ');
                    space = true;
                }
            }
            b'/' | b'(' => {
                if space {
                    out.pop();
                }
                out.push(b);
                space = false;
            }
            _ => {
                out.push(b.to_ascii_lowercase());
                space = false;
            }
        }
    }
    if out == i {
        Cow::Borrowed(i)
    } else {
        Cow::Owned(out)
    }
}

fn normalize_path(i: &[u8], win: bool) -> Cow<'_, [u8]> {
    let src: Vec<u8> = if win { i.iter().map(|b| if *b == b'\\' { b'/' } else { *b }).collect() } else { i.to_vec() };
    let absolute = src.first() == Some(&b'/');
    let trailing = src.ends_with(b"/");
    let mut segs: Vec<&[u8]> = Vec::new();
    for seg in src.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if segs.last().is_some_and(|s| *s != b"..") {
                    segs.pop();
                } else if !absolute {
                    segs.push(seg);
                }
            }
            s => segs.push(s),
        }
    }
    let mut out = Vec::with_capacity(src.len());
    if absolute {
        out.push(b'/');
    }
    out.extend_from_slice(&segs.join(&b'/'));
    if trailing && !segs.is_empty() {
        out.push(b'/');
    }
    if out == i {
        Cow::Borrowed(i)
    } else {
        Cow::Owned(out)
    }
}

fn html_entity_decode(i: &[u8]) -> Cow<'_, [u8]> {
    if !i.contains(&b'&') {
        return Cow::Borrowed(i);
    }
    let mut out = Vec::with_capacity(i.len());
    let mut k = 0;
    while k < i.len() {
        if i[k] == b'&' {
            let rest = &i[k + 1..];
            let end = rest.iter().take(10).position(|b| *b == b';' || !(b.is_ascii_alphanumeric() || *b == b'#'));
            let (body, used) = match end {
                Some(e) if rest.get(e) == Some(&b';') => (&rest[..e], e + 1),
                Some(e) => (&rest[..e], e),
                None => (&rest[..rest.len().min(10)], rest.len().min(10)),
            };
            let decoded: Option<u32> = if let Some(num) = body.strip_prefix(b"#") {
                if let Some(h) = num.strip_prefix(b"x").or_else(|| num.strip_prefix(b"X")) {
                    std::str::from_utf8(h).ok().and_then(|s| u32::from_str_radix(s, 16).ok())
                } else {
                    std::str::from_utf8(num).ok().and_then(|s| s.parse().ok())
                }
            } else {
                match body.to_ascii_lowercase().as_slice() {
                    b"quot" => Some(34),
                    b"amp" => Some(38),
                    b"lt" => Some(60),
                    b"gt" => Some(62),
                    b"nbsp" => Some(160),
                    _ => None,
                }
            };
            match decoded {
                Some(c) if !body.is_empty() => {
                    out.push((c & 0xff) as u8);
                    k += 1 + used;
                }
                _ => {
                    out.push(b'&');
                    k += 1;
                }
            }
        } else {
            out.push(i[k]);
            k += 1;
        }
    }
    Cow::Owned(out)
}

fn js_decode(i: &[u8]) -> Cow<'_, [u8]> {
    if !i.contains(&b'\\') {
        return Cow::Borrowed(i);
    }
    let mut out = Vec::with_capacity(i.len());
    let mut k = 0;
    while k < i.len() {
        if i[k] == b'\\' && k + 1 < i.len() {
            let c = i[k + 1];
            match c {
                b'x' if k + 3 < i.len() && hexval(i[k + 2]).is_some() && hexval(i[k + 3]).is_some() => {
                    out.push(hexval(i[k + 2]).unwrap_or(0) * 16 + hexval(i[k + 3]).unwrap_or(0));
                    k += 4;
                }
                b'u' if k + 5 < i.len() && i[k + 2..k + 6].iter().all(u8::is_ascii_hexdigit) => {
                    out.push(hexval(i[k + 4]).unwrap_or(0) * 16 + hexval(i[k + 5]).unwrap_or(0));
                    k += 6;
                }
                _ => {
                    out.push(match c {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'a' => 7,
                        b'b' => 8,
                        b'f' => 12,
                        b'v' => 11,
                        o => o,
                    });
                    k += 2;
                }
            }
        } else {
            out.push(i[k]);
            k += 1;
        }
    }
    Cow::Owned(out)
}

fn base64_decode(i: &[u8]) -> Cow<'_, [u8]> {
    use base64::Engine as _;
    let clean: Vec<u8> = i.iter().copied().filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/').collect();
    match base64::engine::general_purpose::STANDARD_NO_PAD.decode(&clean) {
        Ok(v) => Cow::Owned(v),
        Err(_) => Cow::Borrowed(i),
    }
}
