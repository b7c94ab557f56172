//! Query-string style `a=1&b=2` parsing into arena spans. The engine needs it for `ARGS_GET` (the query
//! string is not a body); request bodies use the same parser until `body::` provides URLENCODED.

/// Decodes `%XX` and `+` the way ModSecurity's argument parser does: invalid escapes are kept verbatim.
/// Returns true when an invalid escape was seen (URLENCODED_ERROR).
pub fn decode_into(input: &[u8], out: &mut Vec<u8>) -> bool {
    let mut invalid = false;
    let mut k = 0;
    while k < input.len() {
        match input[k] {
            b'+' => {
                out.push(b' ');
                k += 1;
            }
            b'%' => {
                let h = |b: u8| (b as char).to_digit(16);
                match (input.get(k + 1).and_then(|b| h(*b)), input.get(k + 2).and_then(|b| h(*b))) {
                    (Some(a), Some(b)) => {
                        out.push((a * 16 + b) as u8);
                        k += 3;
                    }
                    _ => {
                        invalid = true;
                        out.push(b'%');
                        k += 1;
                    }
                }
            }
            b => {
                out.push(b);
                k += 1;
            }
        }
    }
    invalid
}

/// Splits `a=1&b=2` into raw (still encoded) name/value slices. A part without `=` has an empty value.
pub fn split_pairs(input: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    input.split(|b| *b == b'&').filter(|p| !p.is_empty()).map(|p| match p.iter().position(|b| *b == b'=') {
        Some(i) => (&p[..i], &p[i + 1..]),
        None => (p, &p[p.len()..]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_split() {
        let mut o = Vec::new();
        assert!(!decode_into(b"a%20b+c", &mut o));
        assert_eq!(o, b"a b c");
        o.clear();
        assert!(decode_into(b"100%", &mut o));
        assert_eq!(o, b"100%");
        let v: Vec<_> = split_pairs(b"a=1&&b&c=x=y").collect();
        assert_eq!(v, vec![(&b"a"[..], &b"1"[..]), (&b"b"[..], &b""[..]), (&b"c"[..], &b"x=y"[..])]);
    }
}
