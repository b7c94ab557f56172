//! `portcullis`: the API security gateway's one binary.
//!
//! ```text
//! portcullis serve --config FILE   run the gateway
//! portcullis demo                  run the gateway with its embedded demo config in front of the demo API
//! portcullis check-config FILE     validate a config and print every problem with its key path
//! portcullis crs-test --crs DIR    run the OWASP CRS regression suite through an in-process gateway
//! portcullis eval --corpus DIR     measure TPR/FPR on the labeled attack/benign corpus
//! portcullis admin add-user NAME   manage the admin API's users (also list-users, disable-user, reset-totp)
//! portcullis keys …                API key lifecycle: create, list, show, rotate, revoke, expire
//! portcullis version
//! ```

mod admin_cmd;
mod alloc;
mod crs_test;
mod eval;
mod keys;
mod logging;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use portcullis_config::Config;
use portcullis_proxy::{Gateway, Metrics};

// A proxy allocates and frees many small buffers per request; mimalloc's per-thread free lists measured
// faster than glibc malloc here (see docs/benchmarks.md). `alloc` says why it is entered by hand.
#[global_allocator]
static GLOBAL: alloc::Allocator = alloc::Allocator;

/// The demo config, embedded so `portcullis demo` works from any directory.
const DEMO_CONFIG: &str = include_str!("../../../examples/demo.toml");

#[derive(Parser)]
#[command(name = "portcullis", version, about = "Portcullis — an API security gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway with a config file.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Run the gateway with its demo config in front of the built-in demo API, until Ctrl-C.
    Demo,
    /// Validate a config file; prints every problem with its key path and exits non-zero if there are any.
    CheckConfig { file: PathBuf },
    /// Run the OWASP CRS regression suite (go-ftw YAMLs) through an in-process gateway with the WAF in CRS
    /// test mode, in front of an echo upstream. Ends with `N passed, M failed[, K skipped]`.
    CrsTest(crs_test::Args),
    /// Send the labeled attack/benign corpus through an in-process gateway (default config or --config) and
    /// print TPR/FPR per class and placement, ending with `overall: TPR …, FPR …`.
    Eval(eval::Args),
    /// Manage the admin API's users: add-user, list-users, disable-user, enable-user, reset-totp.
    Admin(admin_cmd::Args),
    /// Manage API keys: create, list, show, rotate, revoke, expire.
    Keys(keys::Args),
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("portcullis {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::CheckConfig { file } => check_config(&file),
        Command::CrsTest(args) => crs_test::main(args),
        Command::Eval(args) => eval::main(args),
        Command::Admin(args) => admin_cmd::main(args),
        Command::Keys(args) => keys::main(args),
        Command::Serve { config } => match Config::load(&config) {
            Ok(cfg) => run(cfg, false),
            Err(e) => {
                eprint!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Demo => {
            let cwd = std::env::current_dir().unwrap_or_default();
            match Config::from_str_at(DEMO_CONFIG, None, cwd) {
                Ok(mut cfg) => {
                    // The demo's API key lives in a fresh state dir, removed on exit.
                    let _keys_state = match keys::prepare_demo(&mut cfg) {
                        Ok(Some((key, dir))) => {
                            let base =
                                cfg.file.listeners.first().map_or("127.0.0.1:8080".into(), |l| l.address.to_string());
                            eprintln!("demo API key: {key}");
                            eprintln!("  curl -i -H 'x-api-key: {key}' http://{base}/api/users/1");
                            Some(dir)
                        }
                        Ok(None) => None,
                        Err(e) => {
                            eprintln!("demo API key: {e}");
                            return ExitCode::FAILURE;
                        }
                    };
                    run(cfg, true)
                }
                Err(e) => {
                    eprint!("embedded demo config: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check_config(file: &Path) -> ExitCode {
    match Config::load(file) {
        Ok(cfg) => {
            // The WAF's rules are compiled here too, so a broken rule file is reported with its file:line.
            let waf = match portcullis_waf_protection::check(&cfg) {
                Ok(Some(rules)) => format!(", WAF {rules} rules"),
                Ok(None) => String::new(),
                Err(e) => {
                    eprintln!("{}: 1 error\n  {e}", file.display());
                    return ExitCode::FAILURE;
                }
            };
            // IP list files and the GeoIP database are read here too, so a bad line is reported as file:line.
            if let Err(e) = portcullis_ipguard::IpGuard::build(&cfg, &portcullis_ipguard::GuardShared::new(0)) {
                eprintln!("{}: 1 error\n  {e}", file.display());
                return ExitCode::FAILURE;
            }
            let f = &cfg.file;
            println!(
                "{}: ok ({} listeners, {} upstreams, {} routes{waf})",
                file.display(),
                f.listeners.len(),
                f.upstreams.len(),
                f.routes.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config, demo: bool) -> ExitCode {
    let _log_guard = match logging::init(&config.file.log) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("log: {e}");
            return ExitCode::from(2);
        }
    };
    // One core (or `workers = 1`): a current-thread runtime, which skips the work-stealing scheduler's
    // bookkeeping; more cores: one worker per core (or as configured).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if config.file.server.workers > 0 { config.file.server.workers } else { cores };
    let mut builder = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    builder.enable_all();
    if workers > 1 {
        builder.worker_threads(workers);
    }
    let rt = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(config, demo)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config, demo: bool) -> Result<(), String> {
    let grace = config.file.server.shutdown_grace.0;
    let watch = config.file.server.watch && config.source.is_some();
    let admin = config.file.admin.clone();

    if demo {
        start_demo_api(&config).await?;
    }
    // Key management on the admin listener when a key store is configured.
    let admin_extra = match &config.file.keys {
        Some(k) if admin.enabled => portcullis_admin::keys::router(portcullis_keys::open_manager(&config, k)?),
        _ => axum::Router::new(),
    };
    let metrics = Metrics::new();
    // the watched files as they are before the gateway reads them (`portcullis_proxy::stamp_files`)
    let stamp = watch.then(|| portcullis_proxy::stamp_files(&config));
    let gw = Gateway::start(config, metrics.clone()).await?;
    let ready = Arc::new(AtomicBool::new(true));
    if admin.enabled {
        let m = metrics.clone();
        let bans = portcullis_admin::bans::BansState {
            store: Arc::new(|| portcullis_limits::traffic().current_store()),
            on_change: Arc::new(|what| match what {
                "unban" => {
                    portcullis_limits::traffic().metrics.bans_lifted.inc();
                }
                _ => portcullis_limits::traffic().metrics.ban_issued("admin"),
            }),
        };
        let state = portcullis_admin::AdminState {
            metrics: Arc::new(move || {
                let mut out = m.encode();
                portcullis_limits::append_metrics(&mut out);
                out
            }),
            ready: ready.clone(),
        };
        let auth = admin_cmd::admin_auth(&gw)?;
        // The admin API (per-IP statistics, bans, keys) runs behind the session guard.
        let api = portcullis_admin::ips::routes(metrics.ipguard.stats.clone())
            .merge(portcullis_admin::bans::routes(bans))
            .merge(admin_extra);
        let (addr, _) = portcullis_admin::serve_with_api(admin.address, state, auth, api)
            .await
            .map_err(|e| format!("admin.address: cannot listen on {}: {e}", admin.address))?;
        tracing::info!(%addr, "admin listener (healthz, readyz, metrics, /api)");
    }
    if let Some(stamp) = stamp {
        gw.watch_files(Duration::from_secs(1), stamp);
    }
    if demo {
        print_demo_banner(&gw, admin.enabled.then_some(admin.address));
    }

    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading config");
                let _ = gw.reload().await;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    tracing::info!(grace = ?grace, "shutting down: no new connections, draining in-flight requests");
    ready.store(false, Ordering::Relaxed);
    let left = gw.shutdown(grace).await;
    tracing::info!(abandoned_connections = left, "stopped");
    Ok(())
}

async fn start_demo_api(config: &Config) -> Result<(), String> {
    let addr = config
        .file
        .upstreams
        .iter()
        .find(|u| u.name == "shop")
        .and_then(|u| u.targets.first())
        .and_then(|t| t.parse().ok())
        .ok_or("the demo config has no upstream \"shop\" with a socket-address target")?;
    portcullis_demo::serve(addr).await.map_err(|e| format!("demo API: cannot listen on {addr}: {e}"))?;
    Ok(())
}

fn print_demo_banner(gw: &Gateway, admin: Option<std::net::SocketAddr>) {
    let base =
        gw.listeners().first().map(|(_, a)| format!("http://{a}")).unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let mut s = format!(
        "\nPortcullis demo is running: gateway {base} in front of the built-in shop API.\n\
         Try:\n  curl -i {base}/api/items\n  curl -i '{base}/api/search?q=mug'\n  \
         curl -i \"{base}/api/search?q=1%27%20OR%20%271%27%3D%271\"   # SQL injection: blocked, 403\n  \
         curl -i {base}/api/users/1        # needs the demo API key above: 401 without it\n  \
         curl -i -X POST {base}/api/login -H 'Content-Type: application/json' -d '{{\"username\":\"{}\",\"password\":\"{}\"}}'\n  \
         (POST /api/login more than 10 times a minute: 429 with Retry-After and RateLimit fields)\n  \
         curl -i {base}/nowhere            # a problem+json 404\n",
        portcullis_demo::DEMO_USER,
        portcullis_demo::DEMO_PASSWORD
    );
    if let Some(a) = admin {
        s.push_str(&format!("Metrics: curl http://{a}/metrics\n"));
    }
    s.push_str("Press Ctrl-C to stop.\n");
    eprintln!("{s}");
}
