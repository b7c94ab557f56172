//! The programs an attacker runs after breaking into a shell command line, and how sure a bare mention
//! of each is. A word in command position is only a finding when the program is known here; how much
//! more evidence is needed depends on its [`Kind`].

/// How much context a program name needs before it is evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A name that only means the program (`whoami`, `ifconfig`, `powershell`): enough after a separator.
    Strong,
    /// A program name that is not an English word (`ls`, `id`, `nc`, `python`): enough with no arguments
    /// right before the end of the command, or with a shell-like argument.
    Weak,
    /// A program that is also an everyday English word (`cat`, `echo`, `sleep`, `ping`): needs a shell-like
    /// argument (`-n`, a path, a number that ends the command...).
    Word,
}

/// `(name, kind, windows)`: `windows` names also match case-insensitively (cmd.exe and PowerShell are).
const PROGRAMS: &[(&str, Kind, bool)] = {
    use Kind::*;
    &[
        // Recon and network tools that only mean themselves.
        ("whoami", Strong, true),
        ("uname", Strong, false),
        ("ifconfig", Strong, false),
        ("ipconfig", Strong, true),
        ("netstat", Strong, true),
        ("nslookup", Strong, true),
        ("busybox", Strong, false),
        ("socat", Strong, false),
        ("ncat", Strong, false),
        ("netcat", Strong, false),
        ("mkfifo", Strong, false),
        ("telnet", Strong, true),
        ("wget", Strong, false),
        ("curl", Strong, true),
        ("bash", Strong, false),
        ("zsh", Strong, false),
        ("ksh", Strong, false),
        ("tcsh", Strong, false),
        ("nohup", Strong, false),
        ("sudo", Strong, false),
        ("crontab", Strong, false),
        ("chmod", Strong, false),
        ("chown", Strong, false),
        ("useradd", Strong, false),
        ("usermod", Strong, false),
        ("traceroute", Strong, false),
        ("tracert", Strong, true),
        ("getent", Strong, false),
        ("lsb_release", Strong, false),
        ("sysctl", Strong, false),
        ("dmesg", Strong, false),
        ("msfvenom", Strong, false),
        ("printenv", Strong, false),
        ("systeminfo", Strong, true),
        ("tasklist", Strong, true),
        ("taskkill", Strong, true),
        ("certutil", Strong, true),
        ("bitsadmin", Strong, true),
        ("wmic", Strong, true),
        ("mshta", Strong, true),
        ("rundll32", Strong, true),
        ("regsvr32", Strong, true),
        ("powershell", Strong, true),
        ("pwsh", Strong, true),
        ("schtasks", Strong, true),
        ("vssadmin", Strong, true),
        ("icacls", Strong, true),
        ("cscript", Strong, true),
        ("wscript", Strong, true),
        ("netsh", Strong, true),
        ("nltest", Strong, true),
        ("iex", Strong, true),
        ("invoke-expression", Strong, true),
        ("invoke-webrequest", Strong, true),
        ("start-process", Strong, true),
        ("get-content", Strong, true),
        ("get-childitem", Strong, true),
        // Programs whose names are not words.
        ("ls", Weak, false),
        ("id", Weak, false),
        ("pwd", Weak, false),
        ("env", Weak, false),
        ("ps", Weak, false),
        ("sh", Weak, false),
        ("dash", Weak, false),
        ("csh", Weak, false),
        ("nc", Weak, false),
        ("ssh", Weak, false),
        ("scp", Weak, false),
        ("ftp", Weak, true),
        ("tftp", Weak, true),
        ("rsync", Weak, false),
        ("dig", Weak, false),
        ("python", Weak, false),
        ("python2", Weak, false),
        ("python3", Weak, false),
        ("perl", Weak, false),
        ("ruby", Weak, false),
        ("php", Weak, false),
        ("lua", Weak, false),
        ("node", Weak, false),
        ("nodejs", Weak, false),
        ("java", Weak, false),
        ("awk", Weak, false),
        ("gawk", Weak, false),
        ("sed", Weak, false),
        ("grep", Weak, false),
        ("egrep", Weak, false),
        ("xargs", Weak, false),
        ("tee", Weak, false),
        ("tar", Weak, false),
        ("unzip", Weak, false),
        ("gzip", Weak, false),
        ("cp", Weak, false),
        ("mv", Weak, false),
        ("rm", Weak, false),
        ("rmdir", Weak, false),
        ("mkdir", Weak, false),
        ("ln", Weak, false),
        ("killall", Weak, false),
        ("pkill", Weak, false),
        ("nmap", Weak, false),
        ("hostname", Weak, true),
        ("uptime", Weak, false),
        ("lsof", Weak, false),
        ("ifup", Weak, false),
        ("od", Weak, false),
        ("hexdump", Weak, false),
        ("xxd", Weak, false),
        ("base64", Weak, false),
        ("nl", Weak, false),
        ("tac", Weak, false),
        ("wc", Weak, false),
        ("readlink", Weak, false),
        ("which", Word, false),
        ("whereis", Weak, false),
        ("su", Weak, false),
        ("exec", Weak, false),
        ("eval", Weak, false),
        ("printf", Weak, false),
        ("expr", Weak, false),
        ("timeout", Weak, true),
        ("usleep", Weak, false),
        ("openssl", Weak, false),
        ("gcc", Weak, false),
        ("systemctl", Weak, false),
        ("cmd", Weak, true),
        ("net", Word, true),
        ("net1", Weak, true),
        ("reg", Weak, true),
        ("sc", Weak, true),
        ("dir", Weak, false),
        ("ver", Weak, false),
        ("vol", Weak, false),
        ("del", Weak, true),
        ("attrib", Weak, true),
        ("findstr", Weak, true),
        // Programs that are also English words.
        ("cat", Word, false),
        ("echo", Word, true),
        ("sleep", Word, true),
        ("ping", Word, true),
        ("find", Word, false),
        ("sort", Word, false),
        ("head", Word, false),
        ("tail", Word, false),
        ("more", Word, false),
        ("less", Word, false),
        ("time", Word, false),
        ("date", Word, false),
        ("type", Word, true),
        ("set", Word, false),
        ("start", Word, false),
        ("copy", Word, false),
        ("test", Word, false),
        ("kill", Word, false),
        ("host", Word, false),
        ("file", Word, false),
        ("strings", Word, false),
        ("touch", Word, false),
        ("source", Word, false),
        ("export", Word, false),
        ("cut", Word, false),
        ("tr", Word, false),
        ("uniq", Word, false),
        ("cd", Word, false),
        ("shutdown", Word, true),
        ("reboot", Word, false),
        ("mail", Word, false),
        ("wait", Word, false),
        ("read", Word, false),
        ("print", Word, false),
        ("call", Word, false),
        ("exit", Word, false),
    ]
};

/// Looks a command word up (already unquoted, path stripped, `.exe` dropped): the first entry of
/// [`PROGRAMS`] spelled exactly so, else (for a word with capitals) the first Windows entry spelled so in
/// lowercase. Only the entries as long as the word are compared.
pub(crate) fn lookup(word: &[u8]) -> Option<(&'static str, Kind)> {
    if word.len() < 2 || word.len() > MAX_NAME || !word[0].is_ascii_alphabetic() {
        return None;
    }
    let same_len = &programs_by_len()[word.len()];
    if let Some((n, k, _)) = same_len.iter().find(|(n, _, _)| n.as_bytes() == word) {
        return Some((n, *k));
    }
    if word.iter().any(u8::is_ascii_uppercase) {
        let lowercase_is = |n: &str| n.bytes().zip(word).all(|(a, b)| a == b.to_ascii_lowercase());
        if let Some((n, k, _)) = same_len.iter().find(|(n, _, win)| *win && lowercase_is(n)) {
            return Some((n, *k));
        }
    }
    None
}

/// One [`PROGRAMS`] entry: name, kind, Windows (case-insensitive).
type Program = (&'static str, Kind, bool);

/// [`PROGRAMS`] grouped by name length (index = length, up to [`MAX_NAME`]), in their order, built once.
fn programs_by_len() -> &'static [Vec<Program>] {
    static BY_LEN: std::sync::OnceLock<Vec<Vec<Program>>> = std::sync::OnceLock::new();
    BY_LEN.get_or_init(|| {
        let mut t = vec![Vec::new(); MAX_NAME + 1];
        for p in PROGRAMS {
            if let Some(slot) = t.get_mut(p.0.len()) {
                slot.push(*p);
            }
        }
        t
    })
}

/// Could `word` be a known program in any spelling [`lookup`] accepts (any case, one executable extension
/// such as `.exe` dropped)? A superset of what the detector finds in a one-word value: the prefilter's
/// question for values without shell syntax (`crate::prefilter`).
pub(crate) fn may_name_program(word: &[u8]) -> bool {
    // Every extension is a dot and three letters: look for the dot before comparing.
    let stem = if word.len() > 4 && word[word.len() - 4] == b'.' {
        EXTENSIONS
            .iter()
            .find(|ext| word[word.len() - ext.len()..].eq_ignore_ascii_case(ext))
            .map_or(word, |ext| &word[..word.len() - ext.len()])
    } else {
        word
    };
    if stem.len() < 2 || stem.len() > MAX_NAME || !stem[0].is_ascii_alphabetic() {
        return false;
    }
    // Most words of prose and headers are no program: one hash and one bit say so before any comparison.
    if !bloom_holds(program_bloom(), name_hash(stem)) {
        return false;
    }
    // A word is compared with the few names as long as it.
    programs_by_len()[stem.len()].iter().any(|(n, _, _)| n.as_bytes().eq_ignore_ascii_case(stem))
}

/// Size of [`program_bloom`] in 64-bit words: 8,192 bits, two per name, for about 170 names (under 0.2 %
/// false "maybe").
const BLOOM_WORDS: usize = 128;

/// FNV-1a over the lowercased name.
fn name_hash(name: &[u8]) -> u32 {
    name.iter().fold(0x811c_9dc5_u32, |h, &b| (h ^ u32::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0193))
}

/// The two bit positions of a hash: its low 13 bits and the 13 above them.
fn bloom_bits(h: u32) -> [usize; 2] {
    [(h & 0x1fff) as usize, ((h >> 13) & 0x1fff) as usize]
}

fn bloom_holds(bloom: &[u64; BLOOM_WORDS], h: u32) -> bool {
    bloom_bits(h).iter().all(|&b| bloom[b / 64] & (1 << (b % 64)) != 0)
}

/// Two bits per [`PROGRAMS`] name (lowercased) from its [`name_hash`]: a clear one means no program has that
/// name in any case, so [`may_name_program`] answers without comparing.
fn program_bloom() -> &'static [u64; BLOOM_WORDS] {
    static BLOOM: std::sync::OnceLock<[u64; BLOOM_WORDS]> = std::sync::OnceLock::new();
    BLOOM.get_or_init(|| {
        let mut bits = [0u64; BLOOM_WORDS];
        for (name, _, _) in PROGRAMS {
            for b in bloom_bits(name_hash(name.as_bytes())) {
                bits[b / 64] |= 1 << (b % 64);
            }
        }
        bits
    })
}

/// Longest word [`lookup`] accepts.
const MAX_NAME: usize = 17;

/// Executable extensions `program_of` drops before the lookup (`cmd.exe` is `cmd`).
pub(crate) const EXTENSIONS: [&[u8]; 5] = [b".exe", b".com", b".bat", b".cmd", b".ps1"];

/// Directories whose executables are programs whatever their name.
pub(crate) fn is_bin_dir(dir: &[u8]) -> bool {
    // Compared without a lowercase copy: every path-like word in command position asks.
    let d = dir.strip_suffix(b"/").unwrap_or(dir);
    let ends_ci = |suffix: &[u8]| d.len() >= suffix.len() && d[d.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    [&b"/bin"[..], b"/usr/bin", b"/sbin", b"/usr/sbin", b"/usr/local/bin", b"/usr/local/sbin", b"/tmp", b"/dev/shm"]
        .iter()
        .any(|n| d.eq_ignore_ascii_case(n))
        || ends_ci(b"windows/system32")
        || ends_ci(b"windows\\system32")
        || ends_ci(b"windowspowershell\\v1.0")
}

/// A program path written with shell globs that only a binary directory matches: `/???/??t`,
/// `/b??/c?t`, `/usr/b*/wh*`. At least one `?`/`*`, every directory component glob-matching the
/// corresponding component of `/bin`, `/sbin`, `/usr/bin`, `/usr/sbin` or `/usr/local/bin`.
pub(crate) fn is_globbed_bin_path(path: &[u8]) -> bool {
    if path.len() > 64 || path.first() != Some(&b'/') || !path.iter().any(|&c| c == b'?' || c == b'*') {
        return false;
    }
    let comps: Vec<&[u8]> = path[1..].split(|&c| c == b'/').collect();
    let Some((base, dirs)) = comps.split_last() else { return false };
    if base.is_empty() || base.len() > 12 || dirs.is_empty() {
        return false;
    }
    let candidates: &[&[&[u8]]] =
        &[&[b"bin"], &[b"sbin"], &[b"usr", b"bin"], &[b"usr", b"sbin"], &[b"usr", b"local", b"bin"]];
    candidates.iter().any(|cand| cand.len() == dirs.len() && cand.iter().zip(dirs).all(|(c, d)| glob_match(d, c)))
}

/// `?` and `*` glob matching on short strings (both at most 12 bytes here).
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    if pat.len() > 12 {
        return false;
    }
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|k| glob_match(rest, &s[k..])),
        Some((b'?', rest)) => !s.is_empty() && glob_match(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob_match(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_program_passes_the_bloom_in_any_case_and_with_any_extension() {
        for (name, _, _) in PROGRAMS {
            let upper = name.to_ascii_uppercase();
            for n in [name.to_string(), upper.clone(), format!("{}{}", &upper[..1], &name[1..])] {
                assert!(may_name_program(n.as_bytes()), "{n}");
                for ext in EXTENSIONS {
                    let with = [n.as_bytes(), ext].concat();
                    assert!(may_name_program(&with), "{}", String::from_utf8_lossy(&with));
                }
            }
        }
        for word in ["Reader", "edition", "hello", "alice.example", "Linux", "Gecko", "x86_64"] {
            assert!(!may_name_program(word.as_bytes()), "{word}");
        }
    }
}
