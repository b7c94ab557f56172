//! `portcullis admin …`: manage the admin users of the admin API, and build its authentication at start.
//!
//! ```text
//! portcullis admin add-user NAME (--config FILE | --db PATH) [--password-stdin]
//! portcullis admin list-users    (--config FILE | --db PATH)
//! portcullis admin disable-user NAME (--config FILE | --db PATH)
//! portcullis admin enable-user NAME  (--config FILE | --db PATH)
//! portcullis admin reset-totp NAME   (--config FILE | --db PATH)
//! ```
//!
//! `add-user` and `reset-totp` print the `otpauth://` provisioning URI and a QR code to scan into an
//! authenticator app: the TOTP secret is shown this once. Owns: the CLI side of admin users. Must not
//! touch: the users store's schema (the admin crate's `auth::users`).

use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args as ClapArgs, Subcommand};
use portcullis_admin::auth::{totp, users, UserStore};
use portcullis_config::Config;
use portcullis_proxy::Gateway;

#[derive(ClapArgs)]
pub struct Args {
    #[command(subcommand)]
    command: AdminCommand,
}

/// Where the users database is: from a config's `[admin] users_db`, or given directly.
#[derive(ClapArgs)]
#[group(required = true, multiple = false)]
struct DbArgs {
    /// Config file whose `[admin] users_db` names the database.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The users database file itself (created if missing, mode 0600).
    #[arg(long)]
    db: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin user: asks for the password twice, then prints the TOTP provisioning URI and QR code.
    AddUser {
        name: String,
        #[command(flatten)]
        db: DbArgs,
        /// Read the password from the first line of standard input instead of the terminal (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List admin users (never shows secrets).
    ListUsers {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable an admin user: logins are refused and live sessions end on their next request.
    DisableUser {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Enable a disabled admin user again.
    EnableUser {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Give an admin user a new TOTP secret (a lost phone): prints the new provisioning URI and QR code.
    ResetTotp {
        name: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

pub fn main(args: Args) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portcullis admin: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let text = output(args)?;
    // Written once and checked: a closed pipe (`| head`) is an error message, not a panic.
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .and_then(|()| std::io::stdout().flush())
        .map_err(|e| format!("cannot write the output: {e}"))
}

/// Does the command; returns what it prints.
fn output(args: Args) -> Result<String, String> {
    let mut out = String::new();
    match args.command {
        AdminCommand::AddUser { name, db, password_stdin } => {
            if !users::valid_username(&name) {
                return Err(users::UserError::BadName(name).to_string());
            }
            let store = open(&db)?;
            let password = if password_stdin { password_from_stdin()? } else { password_from_terminal()? };
            let secret = store.add_user(&name, &password).map_err(|e| e.to_string())?;
            let _ = writeln!(out, "created admin user {name:?} in {}", store.path().display());
            provisioning(&mut out, &name, &secret);
        }
        AdminCommand::ListUsers { db } => {
            let list = open(&db)?.list().map_err(|e| e.to_string())?;
            if list.is_empty() {
                let _ = writeln!(out, "no admin users; create one with `portcullis admin add-user NAME`");
            }
            let _ = writeln!(
                out,
                "{:<24} {:<9} {:<22} {:<22} failed_logins",
                "username", "status", "created", "last_login"
            );
            for u in list {
                let _ = writeln!(
                    out,
                    "{:<24} {:<9} {:<22} {:<22} {}",
                    u.username,
                    if u.disabled { "disabled" } else { "enabled" },
                    when(Some(u.created_at)),
                    when(u.last_login_at),
                    u.failed_logins
                );
            }
        }
        AdminCommand::DisableUser { name, db } => {
            open(&db)?.set_disabled(&name, true).map_err(|e| e.to_string())?;
            let _ = writeln!(out, "disabled admin user {name:?}");
        }
        AdminCommand::EnableUser { name, db } => {
            open(&db)?.set_disabled(&name, false).map_err(|e| e.to_string())?;
            let _ = writeln!(out, "enabled admin user {name:?}");
        }
        AdminCommand::ResetTotp { name, db } => {
            let secret = open(&db)?.reset_totp(&name).map_err(|e| e.to_string())?;
            let _ =
                writeln!(out, "new TOTP secret for admin user {name:?}; the old authenticator entry no longer works");
            provisioning(&mut out, &name, &secret);
        }
    }
    Ok(out)
}

/// The users database named by `--db`, or by `[admin] users_db` in `--config`.
fn open(db: &DbArgs) -> Result<UserStore, String> {
    let path = match (&db.db, &db.config) {
        (Some(p), _) => p.clone(),
        (None, Some(c)) => users_db_from_config(c)?,
        (None, None) => return Err("give --config FILE or --db PATH".into()),
    };
    UserStore::open(&path).map_err(|e| e.to_string())
}

fn users_db_from_config(file: &Path) -> Result<PathBuf, String> {
    let cfg = Config::load(file).map_err(|e| e.to_string())?;
    let p = cfg.file.admin.users_db.as_ref().ok_or_else(|| {
        format!("{}: admin.users_db is not set; add `users_db = \"admin-users.db\"` under [admin]", file.display())
    })?;
    Ok(cfg.resolve(p))
}

fn password_from_stdin() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw);
    check_password(pw.to_string())
}

fn password_from_terminal() -> Result<String, String> {
    if !std::io::stdin().is_terminal() {
        return Err("standard input is not a terminal; use --password-stdin to pipe the password".into());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
    let first = check_password(first)?;
    let again = rpassword::prompt_password("Again: ").map_err(|e| format!("cannot read the password: {e}"))?;
    if first != again {
        return Err("the two passwords differ".into());
    }
    Ok(first)
}

fn check_password(pw: String) -> Result<String, String> {
    if !(users::MIN_PASSWORD_LEN..=users::MAX_PASSWORD_LEN).contains(&pw.len()) {
        return Err(users::UserError::BadPassword.to_string());
    }
    Ok(pw)
}

fn provisioning(out: &mut String, name: &str, secret: &[u8]) {
    let uri = totp::provisioning_uri(name, secret);
    let _ = writeln!(out, "Scan this into an authenticator app (TOTP, SHA-1, 6 digits, 30 s); it is shown only now");
    let _ = writeln!(out, "(lost it? `portcullis admin reset-totp {name}` makes a new one):");
    let _ = writeln!(out, "{uri}");
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            // Light modules drawn as blocks: the code reads correctly on the usual dark terminal background.
            let art = code
                .render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build();
            let _ = writeln!(out, "{art}");
        }
        Err(e) => {
            let _ = writeln!(out, "(no QR code: {e}; enter the secret from the URI by hand)");
        }
    }
    let _ =
        writeln!(out, "Log in with POST /api/login {{\"username\", \"password\", \"totp\"}} on the admin listener.");
}

fn when(unix: Option<i64>) -> String {
    match unix.and_then(|s| u64::try_from(s).ok()) {
        Some(s) => humantime_like(s),
        None => "-".into(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` without a date crate (civil-from-days, H. Hinnant's algorithm).
fn humantime_like(unix: u64) -> String {
    let days = (unix / 86_400) as i64;
    let rem = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Builds the admin API's authentication for `serve`: opens the users database and wires the status view
/// (read from the running gateway each time, so it follows reloads).
pub fn admin_auth(gw: &Arc<Gateway>) -> Result<Arc<portcullis_admin::AdminAuth>, String> {
    let config = gw.config();
    let admin = &config.file.admin;
    let users_db = admin.users_db.as_ref().map(|p| config.resolve(p));
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let g = gw.clone();
    let status: portcullis_admin::auth::StatusFn = Arc::new(move || {
        let cfg = g.config();
        let listeners: Vec<_> =
            g.listeners().iter().map(|(n, a)| serde_json::json!({"name": n, "address": a.to_string()})).collect();
        serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "config_source": cfg.source.as_ref().map(|p| p.display().to_string()),
            "started_at": humantime_like(started),
            "listeners": listeners,
            "upstreams": cfg.file.upstreams.len(),
            "routes": cfg.file.routes.len(),
        })
    });
    if users_db.is_none() {
        tracing::warn!("admin.users_db is not set: the admin API (/api/*) refuses every request");
    }
    let auth = portcullis_admin::AdminAuth::new(users_db.as_deref(), &admin.auth, status)?;
    let auth = match &admin.tls {
        None => auth,
        Some(t) => {
            let ca = t.client_ca.as_ref().map(|p| config.resolve(p));
            auth.with_tls(&config.resolve(&t.cert), &config.resolve(&t.key), ca.as_deref())?
        }
    };
    Ok(Arc::new(auth))
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_time() {
        assert_eq!(super::humantime_like(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::humantime_like(1_234_567_890), "2009-02-13T23:31:30Z");
        assert_eq!(super::humantime_like(951_782_400), "2000-02-29T00:00:00Z");
    }
}
