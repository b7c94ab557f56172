//! Overlong UTF-8 normalisation: the 2- and 3-byte overlong forms of ASCII (`C0 AE` = `.`, `C0 AF` = `/`,
//! `C1 9C` = `\`, `E0 80 AE` = `.`) are what old decoders (IIS, some Java) turned into the ASCII byte, so an
//! attacker uses them to smuggle `../` past filters. We map them to the ASCII byte; other bytes are kept.

/// `None` when there was no overlong sequence.
pub(crate) fn normalize(input: &[u8]) -> Option<Vec<u8>> {
    let first = input.iter().position(|&b| b == 0xC0 || b == 0xC1 || b == 0xE0)?;
    let mut out = Vec::with_capacity(input.len());
    out.extend_from_slice(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < input.len() {
        let b = input[i];
        let cont = |k: usize| input.get(i + k).is_some_and(|&c| c & 0xC0 == 0x80);
        if (b == 0xC0 || b == 0xC1) && cont(1) {
            // Codepoint (b & 1) << 6 | (c & 0x3F): always < 0x80.
            out.push(((b & 0x01) << 6) | (input[i + 1] & 0x3F));
            i += 2;
            changed = true;
            continue;
        }
        if b == 0xE0 && cont(1) && cont(2) && input[i + 1] < 0xA0 {
            let cp = (u32::from(input[i + 1] & 0x3F) << 6) | u32::from(input[i + 2] & 0x3F);
            if cp < 0x80 {
                out.push(cp as u8);
                i += 3;
                changed = true;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    changed.then_some(out)
}
