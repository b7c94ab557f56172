//! Running a corpus: the echo upstream, the gateway in process with the config under test, and a few sender
//! threads each sending one request per fresh loopback connection.
//!
//! The config under test keeps everything that decides what is refused (limits, WAF, routes, protections) but
//! is made runnable here: one plain listener on `127.0.0.1:0`, every upstream pointed at the echo server without
//! TLS or health checks, no admin listener, no access log, no file watching.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use portcullis_config::Config;
use portcullis_crs_test::EchoServer;
use portcullis_proxy::{Gateway, Metrics};

use crate::corpus::Entry;
use crate::outcome::Outcome;
use crate::{request, waflog, Error};

/// The gateway's default configuration: one listener, one upstream, one catch-all route, nothing else.
pub const DEFAULT_CONFIG: &str = r#"# portcullis eval: the default configuration (whatever is on by default).
[[listeners]]
name = "eval"
address = "127.0.0.1:0"

[[upstreams]]
name = "app"
targets = ["127.0.0.1:9"]

[[routes]]
name = "all"
upstream = "app"
"#;

/// How a run sends requests.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Connect + send + response deadline per request.
    pub timeout: Duration,
    /// Sender threads.
    pub concurrency: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { timeout: Duration::from_secs(10), concurrency: 4 }
    }
}

/// One request's result.
#[derive(Debug, Clone)]
pub struct Judged {
    pub entry: Entry,
    pub outcome: Outcome,
    /// The gateway's `X-Request-Id` for it, when it answered.
    pub request_id: Option<String>,
    /// WAF rules that matched it (`942100 (msg)`), from the match log; empty without a WAF.
    pub rules: Vec<String>,
}

/// The default configuration, parsed.
pub fn default_config() -> Result<Config, Error> {
    let cwd = std::env::current_dir().unwrap_or_default();
    Config::from_str_at(DEFAULT_CONFIG, None, cwd).map_err(|e| Error::Config(e.to_string()))
}

/// A config file, loaded and validated (relative paths resolve against its directory).
pub fn load_config(path: &Path) -> Result<Config, Error> {
    Config::load(path).map_err(|e| Error::Config(e.to_string().trim_end().to_owned()))
}

/// Makes `config` runnable in front of the echo upstream at `echo` (see the module docs). A WAF match log is
/// written to `waf_log` unless the config names its own.
pub fn adapt(mut config: Config, echo: SocketAddr, waf_log: &Path) -> Result<Config, Error> {
    let f = &mut config.file;
    if f.waf.log.is_none() {
        f.waf.log = Some(waf_log.to_path_buf());
    }
    f.server.watch = false;
    f.admin.enabled = false;
    f.log.access = "off".into();
    let Some(mut listener) = f.listeners.first().cloned() else {
        return Err(Error::Config("the config has no [[listeners]]".into()));
    };
    listener.address = "127.0.0.1:0".parse().expect("literal address");
    listener.tls = None;
    listener.redirect_https_port = None;
    f.listeners = vec![listener];
    for u in &mut f.upstreams {
        u.targets = vec![echo.to_string()];
        u.tls = None;
        u.health = None;
    }
    config.source = None;
    Ok(config)
}

/// Sends every entry through a gateway running `config` and returns the results in corpus order.
pub async fn run(config: Config, corpus: &[Entry], opts: &RunOptions) -> Result<Vec<Judged>, Error> {
    let echo =
        EchoServer::start("127.0.0.1:0".parse().expect("literal address")).map_err(|e| Error::Echo(e.to_string()))?;
    let dir = tempfile::tempdir().map_err(|e| Error::Io { path: std::env::temp_dir(), source: e })?;
    let config = adapt(config, echo.local_addr(), &dir.path().join("waf.log"))?;
    let log_path = config.file.waf.log.as_ref().map(|p| config.resolve(p));
    // A log the config names may already hold lines: only what this run appends is read.
    let log_start = log_path.as_ref().and_then(|p| std::fs::metadata(p).ok()).map_or(0, |m| m.len());
    let gw = Gateway::start(config, Metrics::new()).await.map_err(Error::Gateway)?;
    let target = gw.listeners().first().map(|(_, a)| *a).ok_or(Error::Gateway("no listener bound".into()))?;
    let entries = corpus.to_vec();
    let opts = opts.clone();
    let outcomes = tokio::task::spawn_blocking(move || send_all(target, &entries, &opts))
        .await
        .map_err(|e| Error::Gateway(format!("sender threads failed: {e}")))?;
    gw.shutdown(Duration::from_secs(1)).await;
    echo.shutdown();
    let hits = log_path.map(|p| read_from(&p, log_start)).map(|t| waflog::parse(&t)).unwrap_or_default();
    Ok(corpus
        .iter()
        .cloned()
        .zip(outcomes)
        .map(|(entry, (outcome, request_id))| {
            let rules = request_id.as_ref().and_then(|id| hits.get(id)).cloned().unwrap_or_default();
            Judged { entry, outcome, request_id, rules }
        })
        .collect())
}

/// The file's text from byte `start` on (empty when it cannot be read: the rule listing is a diagnostic).
fn read_from(path: &Path, start: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let from = usize::try_from(start).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[from..]).into_owned()
}

/// What the client saw of one request, and the gateway's request id for it.
type Sent = (Outcome, Option<String>);

fn send_all(target: SocketAddr, entries: &[Entry], opts: &RunOptions) -> Vec<Sent> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<Sent>>> = Mutex::new(vec![None; entries.len()]);
    std::thread::scope(|s| {
        for _ in 0..opts.concurrency.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(e) = entries.get(i) else { break };
                let bytes = request::build(e);
                let resp = portcullis_crs_test::client::send(target, &bytes, opts.timeout);
                let id = resp.as_ref().ok().and_then(|r| r.header("x-request-id")).map(str::to_owned);
                let outcome = Outcome::from_response(resp);
                if let Ok(mut v) = slots.lock() {
                    v[i] = Some((outcome, id));
                }
            });
        }
    });
    slots
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|o| o.unwrap_or((Outcome::Error { error: "not sent".into() }, None)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapt_keeps_protections_and_points_everything_at_the_echo() {
        let text = "[admin]\nenabled = true\n\
            [[listeners]]\nname = \"a\"\naddress = \"0.0.0.0:8080\"\n\
            [[listeners]]\nname = \"b\"\naddress = \"0.0.0.0:8081\"\n\
            [[upstreams]]\nname = \"u1\"\ntargets = [\"10.0.0.1:80\", \"10.0.0.2:80\"]\n\
            [[upstreams]]\nname = \"u2\"\ntargets = [\"10.0.0.3:80\"]\n\
            [[routes]]\nname = \"r\"\nupstream = \"u1\"\n";
        let cfg = Config::from_str_at(text, None, std::env::temp_dir()).unwrap();
        let echo: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let out = adapt(cfg, echo, Path::new("/tmp/x/waf.log")).unwrap();
        let f = &out.file;
        assert_eq!(f.listeners.len(), 1);
        assert_eq!((f.listeners[0].name.as_str(), f.listeners[0].address.to_string()), ("a", "127.0.0.1:0".into()));
        assert!(f.upstreams.iter().all(|u| u.targets == vec!["127.0.0.1:4242".to_string()]));
        assert!(!f.admin.enabled && !f.server.watch && f.log.access == "off");
        assert_eq!(f.waf.log.as_deref(), Some(Path::new("/tmp/x/waf.log")));
        assert_eq!(f.routes.len(), 1, "routes are kept");
        assert!(default_config().is_ok());
    }
}
