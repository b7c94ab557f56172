//! The allow and deny sets built from inline entries and list files, and their reload when a file changes:
//! modification times and sizes are polled (like the config watcher in `portcullis-proxy`), and a file that no
//! longer parses keeps the previous sets, with file:line in the log.

use std::path::PathBuf;
use std::sync::Weak;
use std::time::{Duration, SystemTime};

use ipnet::IpNet;

use crate::ipset::IpSet;
use crate::listfile::{read_list, ListError};

/// Where the lists come from.
#[derive(Debug, Clone, Default)]
pub struct ListSources {
    pub allow: Vec<IpNet>,
    pub deny: Vec<IpNet>,
    pub allow_files: Vec<PathBuf>,
    pub deny_files: Vec<PathBuf>,
}

/// One loaded generation of the lists.
#[derive(Debug, Default)]
pub struct Lists {
    pub allow: IpSet,
    pub deny: IpSet,
}

impl ListSources {
    /// Reads every file; the first bad line fails the whole load.
    pub fn load(&self) -> Result<Lists, ListError> {
        let read = |inline: &[IpNet], files: &[PathBuf]| -> Result<IpSet, ListError> {
            let mut nets = inline.to_vec();
            for f in files {
                nets.extend(read_list(f)?);
            }
            Ok(IpSet::new(nets))
        };
        Ok(Lists { allow: read(&self.allow, &self.allow_files)?, deny: read(&self.deny, &self.deny_files)? })
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty() && self.allow_files.is_empty() && self.deny_files.is_empty()
    }
}

type Stamp = Vec<Option<(SystemTime, u64)>>;

fn stamp(files: &[PathBuf]) -> Stamp {
    files.iter().map(|f| std::fs::metadata(f).ok().and_then(|m| Some((m.modified().ok()?, m.len())))).collect()
}

/// Polls `files` every `every` and calls `reload` on the target after a change, until the target is dropped.
/// Needs a Tokio runtime; without one (e.g. `check-config`) nothing is watched.
pub(crate) fn watch<T: Send + Sync + 'static>(
    target: Weak<T>,
    files: Vec<PathBuf>,
    every: Duration,
    reload: fn(&T),
) -> Option<tokio::task::JoinHandle<()>> {
    if files.is_empty() {
        return None;
    }
    let handle = tokio::runtime::Handle::try_current().ok()?;
    Some(handle.spawn(async move {
        let mut last = stamp(&files);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = stamp(&files);
            if now == last {
                continue;
            }
            // Give a writer a moment to finish; stamp before reading so a later write triggers again.
            tokio::time::sleep(Duration::from_millis(100)).await;
            last = stamp(&files);
            let Some(t) = target.upgrade() else { return };
            reload(&t);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_files_merge() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("deny.netset");
        std::fs::write(&f, "# test\n198.51.100.0/24 ; SBL1\n").unwrap();
        let src = ListSources {
            allow: vec!["10.0.0.0/8".parse().unwrap()],
            deny: vec!["203.0.113.7/32".parse().unwrap()],
            deny_files: vec![f.clone()],
            ..Default::default()
        };
        let l = src.load().unwrap();
        assert!(l.allow.contains("10.9.9.9".parse().unwrap()));
        assert!(l.deny.contains("198.51.100.9".parse().unwrap()));
        assert!(l.deny.contains("203.0.113.7".parse().unwrap()));
        std::fs::write(&f, "198.51.100.0/24\nbogus\n").unwrap();
        let e = src.load().unwrap_err();
        assert_eq!(e.line, 2);
    }
}
