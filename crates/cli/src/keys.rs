//! `portcullis keys …`: the API key lifecycle from the command line, on the same store the gateway reads.
//!
//! ```text
//! portcullis keys --config FILE create --name N --scopes a,b --expires 30d [--rate-limit 100/min] [--env test]
//! portcullis keys --db PATH list | show ID | rotate ID [--overlap 1h] | revoke ID | expire ID
//! ```
//!
//! The store comes from `--config` (its `[keys]` section) or `--db`; the HMAC server secret (needed to create,
//! import and rotate) from the config, `--secret-file`, or `$PORTCULLIS_KEYS_SECRET`. A new secret is printed
//! once, alone on stdout; everything else goes to stderr. Every change is audited as `cli:$USER`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use portcullis_config::Config;
use portcullis_keys::{
    now_ms, rfc3339, KeyEnv, KeyHasher, KeyLimits, KeyManager, KeyRecord, KeyStore, NewKey, Rate, SqliteStore,
    DEFAULT_SECRET_ENV,
};

#[derive(Parser, Debug)]
pub struct Args {
    /// Config file whose `[keys]` section names the store and the secret.
    #[arg(long, short, global = true, conflicts_with = "db")]
    config: Option<PathBuf>,
    /// The SQLite key store, instead of `--config`.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    /// File holding the HMAC server secret (with `--db`; default: $PORTCULLIS_KEYS_SECRET).
    #[arg(long, global = true)]
    secret_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Create a key and print its secret once.
    Create(CreateArgs),
    /// Store a key generated elsewhere (read from stdin), e.g. a benchmark's pre-shared key.
    Import(CreateArgs),
    /// Print a fresh well-formed key without storing it (to provision elsewhere with `import`).
    Generate {
        #[arg(long, default_value = "live", value_parser = parse_env)]
        env: KeyEnv,
    },
    /// List keys (never secrets).
    List,
    /// Show one key and its recent audit events.
    Show { id: String },
    /// Give the key a new secret; the old one keeps working for the overlap, then stops.
    Rotate {
        id: String,
        #[arg(long, default_value = "0s", value_parser = parse_duration)]
        overlap: Duration,
    },
    /// Revoke a key: refused on every gateway within about a second.
    Revoke { id: String },
    /// End a key's validity now.
    Expire { id: String },
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    #[arg(long)]
    name: String,
    /// Comma-separated scopes (`users:read,orders:*`).
    #[arg(long, default_value = "", value_delimiter = ',')]
    scopes: Vec<String>,
    /// Valid for this long (`30d`, `12h`); default: no expiry.
    #[arg(long, value_parser = parse_duration)]
    expires: Option<Duration>,
    /// Per-key rate limit (`100/min`), enforced by the rate limiter.
    #[arg(long, value_parser = Rate::parse)]
    rate_limit: Option<Rate>,
    /// Per-key quota (`100000/day`).
    #[arg(long, value_parser = Rate::parse)]
    quota: Option<Rate>,
    /// `live` (default) or `test`.
    #[arg(long, default_value = "live", value_parser = parse_env)]
    env: KeyEnv,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (write e.g. 30d, 12h, 90s)"))
}

fn parse_env(s: &str) -> Result<KeyEnv, String> {
    KeyEnv::parse(s).ok_or_else(|| format!("{s:?}: use live or test"))
}

fn actor() -> String {
    format!("cli:{}", std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "unknown".into()))
}

/// Where the store and the secret come from.
struct Source {
    store: Where,
    secret: Result<KeyHasher, String>,
}

/// `--db PATH` (SQLite), or the store `[keys]` in `--config` names (SQLite or Redis).
enum Where {
    Db(PathBuf),
    Config(Box<Config>),
}

fn source(a: &Args) -> Result<Source, String> {
    if let Some(path) = &a.config {
        let cfg = Config::load(path).map_err(|e| e.to_string())?;
        let k = cfg.file.keys.as_ref().ok_or_else(|| format!("{}: no [keys] section", path.display()))?;
        let secret = match (&k.secret_file, &k.secret_env) {
            (Some(f), _) => KeyHasher::from_file(&cfg.resolve(f)).map_err(|e| format!("keys.secret_file: {e}")),
            (None, Some(v)) => KeyHasher::from_env(v).map_err(|e| format!("keys.secret_env: {e}")),
            (None, None) => Err("keys: no secret_file or secret_env".into()),
        };
        return Ok(Source { store: Where::Config(Box::new(cfg)), secret });
    }
    let db = a.db.clone().ok_or("give --config FILE or --db PATH")?;
    let secret = match &a.secret_file {
        Some(f) => KeyHasher::from_file(f).map_err(|e| e.to_string()),
        None => KeyHasher::from_env(DEFAULT_SECRET_ENV).map_err(|e| format!("{e} (or give --secret-file)")),
    };
    Ok(Source { store: Where::Db(db), secret })
}

fn open(w: &Where) -> Result<Arc<dyn KeyStore>, String> {
    match w {
        Where::Db(db) => Ok(Arc::new(SqliteStore::open(db).map_err(|e| e.to_string())?)),
        Where::Config(cfg) => match &cfg.file.keys {
            Some(k) => portcullis_keys::open_store(cfg, k),
            None => Err("no [keys] section".into()),
        },
    }
}

fn manager(src: Source) -> Result<KeyManager, String> {
    let store = open(&src.store)?;
    KeyManager::new(store, src.secret?).map_err(|e| e.to_string())
}

pub fn main(a: Args) -> ExitCode {
    match run(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis keys: {e}");
            ExitCode::FAILURE
        }
    }
}

fn new_key(c: &CreateArgs) -> NewKey {
    NewKey {
        name: c.name.clone(),
        scopes: c.scopes.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
        expires_in: c.expires,
        limits: KeyLimits { rate_limit: c.rate_limit, quota: c.quota },
        env: Some(c.env),
    }
}

fn run(a: Args) -> Result<(), String> {
    if let KeysCommand::Generate { env } = &a.command {
        println!("{}", portcullis_keys::format::generate(*env, &portcullis_keys::format::new_id()));
        return Ok(());
    }
    let src = source(&a)?;
    let actor = actor();
    let now = now_ms();
    match &a.command {
        KeysCommand::Create(c) => {
            let issued = manager(src)?.create(&new_key(c), &actor).map_err(|e| e.to_string())?;
            describe(&issued.record, a.json, now);
            eprintln!("The secret is shown once and is not stored; keep it now:");
            println!("{}", issued.key);
        }
        KeysCommand::Import(c) => {
            let mut key = String::new();
            std::io::stdin().read_line(&mut key).map_err(|e| format!("reading the key from stdin: {e}"))?;
            let mut nk = new_key(c);
            nk.env = None;
            let record = manager(src)?.import(&nk, key.trim(), &actor).map_err(|e| e.to_string())?;
            describe(&record, a.json, now);
        }
        KeysCommand::List => {
            let keys = open(&src.store)?.list().map_err(|e| e.to_string())?;
            if a.json {
                let v: Vec<_> = keys.iter().map(|k| k.to_json(now)).collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!(
                    "{:<12}  {:<7}  {:<4}  {:<20}  {:<20}  {:<20}  SCOPES",
                    "ID", "STATE", "ENV", "NAME", "EXPIRES", "LAST USED"
                );
                for k in &keys {
                    println!(
                        "{:<12}  {:<7}  {:<4}  {:<20}  {:<20}  {:<20}  {}",
                        k.id,
                        k.state(now),
                        k.env,
                        k.name,
                        k.expires.map(rfc3339).unwrap_or_else(|| "never".into()),
                        k.last_used.map(rfc3339).unwrap_or_else(|| "-".into()),
                        k.scopes.join(",")
                    );
                }
            }
        }
        KeysCommand::Show { id } => {
            let store = open(&src.store)?;
            let k = store.get(id).map_err(|e| e.to_string())?.ok_or_else(|| format!("no key with id {id:?}"))?;
            let audit = store.audit(Some(id), 20).map_err(|e| e.to_string())?;
            let mut v = k.to_json(now);
            v["audit"] = serde_json::json!(audit
                .iter()
                .map(|e| serde_json::json!({"at": rfc3339(e.at), "actor": e.actor, "action": e.action, "detail": e.detail}))
                .collect::<Vec<_>>());
            println!("{}", if a.json { v.to_string() } else { serde_json::to_string_pretty(&v).unwrap_or_default() });
        }
        KeysCommand::Rotate { id, overlap } => {
            let issued = manager(src)?.rotate(id, *overlap, &actor).map_err(|e| e.to_string())?;
            let until = issued.record.prev_until.map(rfc3339);
            match until {
                Some(u) => eprintln!("Rotated key {id}; the previous secret keeps working until {u}."),
                None => eprintln!("Rotated key {id}; the previous secret no longer works."),
            }
            eprintln!("The new secret is shown once and is not stored; keep it now:");
            println!("{}", issued.key);
        }
        KeysCommand::Revoke { id } => {
            portcullis_keys::revoke(&*open(&src.store)?, id, &actor).map_err(|e| e.to_string())?;
            eprintln!("Revoked key {id}.");
        }
        KeysCommand::Generate { .. } => {}
        KeysCommand::Expire { id } => {
            portcullis_keys::expire(&*open(&src.store)?, id, &actor).map_err(|e| e.to_string())?;
            eprintln!("Expired key {id}.");
        }
    }
    Ok(())
}

fn describe(k: &KeyRecord, json: bool, now: i64) {
    if json {
        eprintln!("{}", k.to_json(now));
    } else {
        eprintln!(
            "Key {} ({:?}, {}): scopes {}, expires {}",
            k.id,
            k.name,
            k.env,
            if k.scopes.is_empty() { "-".to_string() } else { k.scopes.join(",") },
            k.expires.map(rfc3339).unwrap_or_else(|| "never".into())
        );
    }
}

/// For `portcullis demo`: points `[keys]` at a fresh state dir (new secret and store), creates one key for
/// `/api/users/`, and returns it with the dir (removed when dropped).
pub fn prepare_demo(cfg: &mut Config) -> Result<Option<(String, tempfile::TempDir)>, String> {
    let Some(k) = cfg.file.keys.as_mut() else { return Ok(None) };
    let dir =
        tempfile::Builder::new().prefix("portcullis-demo-").tempdir().map_err(|e| format!("demo state dir: {e}"))?;
    let secret = dir.path().join("keys.secret");
    std::fs::write(&secret, portcullis_keys::generate_secret()).map_err(|e| format!("demo keys secret: {e}"))?;
    k.db = dir.path().join("keys.db");
    k.store = None;
    k.secret_file = Some(secret);
    k.secret_env = None;
    let k = k.clone();
    let m = portcullis_keys::open_manager(cfg, &k)?;
    let new = NewKey { name: "demo".into(), scopes: vec!["users:read".into()], ..Default::default() };
    let issued = m.create(&new, "demo").map_err(|e| e.to_string())?;
    Ok(Some((issued.key, dir)))
}
