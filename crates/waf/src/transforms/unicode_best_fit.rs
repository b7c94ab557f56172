//! The "best fit" Unicode → US-ASCII table (Windows code page 20127) that `urlDecodeUni` applies to
//! `%uHHHH`, as ModSecurity does with the CRS-recommended `SecUnicodeMapFile unicode.mapping 20127` and as
//! Coraza always does. A code point missing here falls back to the low byte of the escape (plus the
//! full-width ASCII rule, which also covers U+FF01..U+FF5E, so those are not listed).
//!
//! Stored as runs: a run maps consecutive code points starting at `start` to the bytes of its string.

/// (first code point, ASCII bytes for it and the following code points)
const RUNS: &[(u16, &[u8])] = &[
    (0x00a0, b" !c"),
    (0x00a4, b"$Y|"),
    (0x00a9, b"Ca<"),
    (0x00ad, b"-R"),
    (0x00b2, b"23"),
    (0x00b7, b".,1o>"),
    (0x00c0, b"AAAAAAACEEEEIIIIDNOOOOO"),
    (0x00d8, b"OUUUUY"),
    (0x00e0, b"aaaaaaaceeeeiiii"),
    (0x00f1, b"nooooo"),
    (0x00f8, b"ouuuuy"),
    (0x00ff, b"y"),
    (0x0100, b"AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi"),
    (0x0134, b"JjKk"),
    (0x0139, b"LlLlLl"),
    (0x0141, b"LlNnNnNn"),
    (0x014c, b"OoOoOoOoRrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZ"),
    (0x017b, b"ZzZz"),
    (0x0180, b"b"),
    (0x0189, b"D"),
    (0x0191, b"Ff"),
    (0x0197, b"I"),
    (0x019a, b"l"),
    (0x019f, b"OOo"),
    (0x01ab, b"t"),
    (0x01ae, b"TUu"),
    (0x01b6, b"z"),
    (0x01cd, b"AaIiOoUuUuUuUuUu"),
    (0x01de, b"Aa"),
    (0x01e4, b"GgGgKkOoOo"),
    (0x01f0, b"j"),
    (0x0261, b"g"),
    (0x02b9, b"'\""),
    (0x02bc, b"'"),
    (0x02c4, b"^"),
    (0x02c6, b"^"),
    (0x02c8, b"'"),
    (0x02cb, b"`"),
    (0x02cd, b"_"),
    (0x02dc, b"~"),
    (0x0300, b"`"),
    (0x0302, b"^~"),
    (0x030e, b"\""),
    (0x0331, b"__"),
    (0x2000, b"       "),
    (0x2010, b"--"),
    (0x2013, b"--"),
    (0x2018, b"'',"),
    (0x201c, b"\"\"\""),
    (0x2022, b"."),
    (0x2026, b"."),
    (0x2032, b"'"),
    (0x2035, b"`"),
    (0x2039, b"<>"),
    (0x2122, b"T"),
];

/// The best-fit ASCII byte for `cp`, if the table has one.
pub(crate) fn best_fit(cp: u16) -> Option<u8> {
    // Runs are sorted and disjoint: find the last run starting at or before `cp`.
    let idx = RUNS.partition_point(|&(start, _)| start <= cp).checked_sub(1)?;
    let (start, bytes) = RUNS[idx];
    bytes.get(usize::from(cp - start)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_sorted_and_disjoint() {
        for w in RUNS.windows(2) {
            assert!(u32::from(w[0].0) + w[0].1.len() as u32 <= u32::from(w[1].0), "{:#x}", w[1].0);
        }
        assert_eq!(best_fit(0x00a0), Some(b' '));
        assert_eq!(best_fit(0x00a3), None);
        assert_eq!(best_fit(0x0179), Some(b'Z'));
        assert_eq!(best_fit(0x017a), None);
        assert_eq!(best_fit(0x201d), Some(b'"'));
        assert_eq!(best_fit(0x0041), None);
        assert_eq!(best_fit(0xffff), None);
    }
}
