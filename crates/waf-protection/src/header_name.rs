//! Header names as the rules see them. hyper hands the gateway lowercase names (HTTP/2 requires them, and
//! HTTP/1 names are case-insensitive); ModSecurity and Coraza show rules the names in the form clients write
//! them (Coraza through Go's canonical form), so `MATCHED_VAR_NAME` and the logs read
//! `REQUEST_HEADERS:User-Agent`, which is what rule authors, exclusion rules matching on names and log readers
//! expect. Owns only that spelling; never changes what is forwarded.

/// Longest name canonicalised on the stack; longer names (rare) are handed over as they came.
const STACK_NAME: usize = 64;

/// Calls `f` with `name` in canonical form: the first letter and every letter after a `-` uppercase, the rest
/// lowercase (`x-forwarded-for` → `X-Forwarded-For`), as Go's `CanonicalMIMEHeaderKey`. Names longer than
/// 64 bytes are passed unchanged.
pub(crate) fn with_canonical<R>(name: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    if name.len() > STACK_NAME {
        return f(name);
    }
    let mut buf = [0u8; STACK_NAME];
    let mut upper = true;
    for (o, &c) in buf.iter_mut().zip(name) {
        *o = if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
        upper = c == b'-';
    }
    f(&buf[..name.len()])
}

#[cfg(test)]
mod tests {
    use super::with_canonical;

    fn canon(n: &str) -> String {
        with_canonical(n.as_bytes(), |c| String::from_utf8(c.to_vec()).unwrap())
    }

    #[test]
    fn canonical_like_go() {
        assert_eq!(canon("referer"), "Referer");
        assert_eq!(canon("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(canon("content-type"), "Content-Type");
        assert_eq!(canon("x-crs-test"), "X-Crs-Test");
        assert_eq!(canon("te"), "Te");
        assert_eq!(canon("a--b"), "A--B");
        assert_eq!(canon(""), "");
        let long = "x".repeat(65);
        assert_eq!(canon(&long), long);
    }
}
