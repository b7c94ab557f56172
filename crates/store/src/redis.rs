//! The Redis backend: every limiter decision is one atomic Lua script (EVALSHA, loaded on NOSCRIPT), never a
//! read-modify-write from the gateway — which is what makes limits "work randomly" elsewhere: two gateways read
//! the same count, both add one, one increment is lost.
//!
//! Clock: the GCRA script reads Redis's own `TIME` inside the script. Every gateway sharing a key then uses the
//! one clock of the server holding it, so gateway clock skew (easily milliseconds, which at 1000/s is whole
//! requests) cannot skew the limit; a key lives on exactly one node, also in a cluster. Bans use the gateway's
//! wall clock (see [`crate::ban`]).
//!
//! Keys are cluster-safe: a limiter key carries its own hash tag (`portcullis:rl:{login|ip:1.2.3.4}`), and the
//! two ban hashes share the tag `{portcullis:bans}` so one script can touch both.
//!
//! Bans are read on every request, so they are not fetched per request: a background task mirrors the ban
//! hash into a local map every second ([`BAN_SYNC`]), and this gateway's own new bans go to the mirror at once.

use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, RedisResult, Script};

use crate::ban::{ms, unix_ms, Ban, Escalation};
use crate::gcra::{Gcra, RateDecision};
use crate::memory::MemoryStore;
use crate::{RedisTarget, StoreError};

/// How often the local ban mirror is refreshed from Redis.
pub const BAN_SYNC: Duration = Duration::from_secs(1);
/// Expired bans and forgotten escalation levels are swept every this many syncs.
const SWEEP_EVERY_SYNCS: u32 = 30;
/// Delay between attempts to make the first connection (later reconnects are the connection manager's).
const CONNECT_RETRY: Duration = Duration::from_millis(250);

/// The GCRA step for one or more keys in one script, in order, stopping after the first refusal (a refused
/// request does not count against the limits after it — the same as checking them one by one). `ARGV` holds
/// interval and tolerance per key; the answer is four numbers per key checked. One script for all the limits of
/// a request: one round trip however many limits a route has.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local out = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = now
  local stored = redis.call('GET', KEYS[i])
  if stored then
    local s = tonumber(stored)
    if s and s > now then tat = s end
  end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance
  local n = #out
  if now < allow_at then
    out[n + 1] = 0; out[n + 2] = math.floor((tolerance - (tat - now)) / interval)
    out[n + 3] = tat - now; out[n + 4] = allow_at - now
    return out
  end
  redis.call('SET', KEYS[i], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
  out[n + 1] = 1; out[n + 2] = math.floor((tolerance - (new_tat - now)) / interval)
  out[n + 3] = new_tat - now; out[n + 4] = 0
end
return out
"#,
    )
});

static COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local c = redis.call('INCR', KEYS[1])
if c == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return c
"#,
    )
});

static BAN_ESCALATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[2])
local level = 1
local lv = redis.call('HGET', KEYS[2], ARGV[1])
if lv then
  local l, forget = string.match(lv, '^(%d+) (%d+)$')
  if l and tonumber(forget) > now then level = tonumber(l) + 1 end
end
local dur = tonumber(ARGV[3]) * (tonumber(ARGV[4]) ^ (level - 1))
local max = tonumber(ARGV[5])
if dur > max then dur = max end
dur = math.floor(dur)
local till = now + dur
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local cu = tonumber(string.match(cur, '^(%d+) '))
  if cu and cu > till then till = cu end
end
local tills = string.format('%.0f', till)
redis.call('HSET', KEYS[1], ARGV[1], tills .. ' ' .. string.format('%d', level) .. ' ' .. ARGV[7])
redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', level) .. ' ' .. string.format('%.0f', now + dur + tonumber(ARGV[6])))
return {tills, level}
"#,
    )
});

static SWEEP: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local now = tonumber(ARGV[1])
local n = 0
local a = redis.call('HGETALL', KEYS[1])
for i = 1, #a, 2 do
  local till = tonumber(string.match(a[i + 1], '^(%d+)'))
  if (not till) or till <= now then redis.call('HDEL', KEYS[1], a[i]); n = n + 1 end
end
local l = redis.call('HGETALL', KEYS[2])
for i = 1, #l, 2 do
  local f = tonumber(string.match(l[i + 1], ' (%d+)$'))
  if (not f) or f <= now then redis.call('HDEL', KEYS[2], l[i]); n = n + 1 end
end
return n
"#,
    )
});

/// A connection that reconnects on its own: the connection manager (standalone) or the cluster client.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn script<T: FromRedisValue>(&self, script: &Script, keys: &[&str], args: &[String]) -> RedisResult<T> {
        let mut inv = script.prepare_invoke();
        for k in keys {
            inv.key(*k);
        }
        for a in args {
            inv.arg(a.as_str());
        }
        match self {
            Conn::Single(c) => inv.invoke_async(&mut c.clone()).await,
            Conn::Cluster(c) => inv.invoke_async(&mut c.clone()).await,
        }
    }

    async fn cmd<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(c) => cmd.query_async(&mut c.clone()).await,
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }
}

/// The Redis side of a [`crate::Store`]; its async methods run on the store's own runtime thread.
pub struct RedisBackend {
    conn: ArcSwapOption<Conn>,
    target: RedisTarget,
    timeout: Duration,
    prefix: String,
    active_key: String,
    levels_key: String,
    /// Local mirror of the ban hash.
    pub(crate) bans: MemoryStore,
}

impl RedisBackend {
    pub(crate) fn new(prefix: &str, target: RedisTarget, timeout: Duration) -> RedisBackend {
        RedisBackend {
            conn: ArcSwapOption::empty(),
            target,
            timeout,
            prefix: prefix.to_string(),
            active_key: format!("{{{prefix}:bans}}:active"),
            levels_key: format!("{{{prefix}:bans}}:levels"),
            bans: MemoryStore::new(1024),
        }
    }

    /// Makes the first connection, retrying until it succeeds (the gateway serves meanwhile, under its failure
    /// mode), then mirrors bans until the store is dropped.
    pub(crate) async fn run(self: Arc<Self>) {
        let (target, timeout) = (&self.target, self.timeout);
        let mut warned = false;
        loop {
            match connect(target, timeout).await {
                Ok(c) => {
                    self.conn.store(Some(Arc::new(c)));
                    tracing::info!("connected to Redis");
                    break;
                }
                Err(e) => {
                    if !warned {
                        tracing::warn!(error = %e, "cannot connect to Redis yet; retrying (the failure mode applies meanwhile)");
                        warned = true;
                    }
                    tokio::time::sleep(CONNECT_RETRY).await;
                }
            }
        }
        let mut tick = tokio::time::interval(BAN_SYNC);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweep_in = SWEEP_EVERY_SYNCS;
        loop {
            tick.tick().await;
            sweep_in -= 1;
            if sweep_in == 0 {
                sweep_in = SWEEP_EVERY_SYNCS;
                let _ = tokio::time::timeout(timeout * 4, self.sweep()).await;
            }
            match tokio::time::timeout(timeout * 4, self.fetch_bans()).await {
                Ok(Ok(all)) => self.bans.ban_replace_all(all),
                // The mirror keeps the last bans it saw: bans stay enforced while Redis is away.
                Ok(Err(e)) => tracing::debug!(error = %e, "ban mirror refresh failed"),
                Err(_) => tracing::debug!("ban mirror refresh timed out"),
            }
        }
    }

    pub(crate) fn conn(&self) -> Result<Conn, StoreError> {
        self.conn.load_full().map(|c| (*c).clone()).ok_or(StoreError::NotConnected)
    }

    fn rate_key(&self, key: &str) -> String {
        format!("{}:rl:{{{}}}", self.prefix, safe_key(key))
    }

    pub(crate) async fn rate_check(&self, key: String, g: Gcra) -> Result<RateDecision, StoreError> {
        let conn = self.conn()?;
        let mut d = self.rate_check_on(&conn, &[(key.as_str(), g)]).await?;
        d.pop().ok_or_else(|| StoreError::Redis("rate script returned no decision".into()))
    }

    /// The decisions for `checks` in order, up to and including the first refusal, on `conn`: one script on a
    /// standalone Redis. In a cluster the keys of one request live in different slots (each limit key carries
    /// its own hash tag, so one script cannot hold them), so each key's script goes to its node concurrently:
    /// still one round trip of waiting, but a refusal does not spare the limits after it there.
    pub(crate) async fn rate_check_on(
        &self,
        conn: &Conn,
        checks: &[(&str, Gcra)],
    ) -> Result<Vec<RateDecision>, StoreError> {
        if let (Conn::Cluster(_), [_, _, ..]) = (conn, checks) {
            let each = checks.iter().map(|c| self.rate_check_on(conn, std::slice::from_ref(c)));
            let mut out = Vec::with_capacity(checks.len());
            for r in futures_util::future::join_all(each).await {
                let d = r?;
                let refused = d.iter().any(|d| !d.allowed);
                out.extend(d);
                if refused {
                    break;
                }
            }
            return Ok(out);
        }
        let keys: Vec<String> = checks.iter().map(|(k, _)| self.rate_key(k)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let args: Vec<String> =
            checks.iter().flat_map(|(_, g)| [g.interval_us.to_string(), g.tolerance_us.to_string()]).collect();
        let r: Vec<i64> = conn.script(&GCRA, &keys, &args).await?;
        if r.is_empty() || !r.len().is_multiple_of(4) || r.len() > 4 * checks.len() {
            return Err(StoreError::Redis(format!(
                "rate script returned {} values for {} keys",
                r.len(),
                checks.len()
            )));
        }
        let us = |v: i64| Duration::from_micros(v.max(0) as u64);
        Ok(r.chunks_exact(4)
            .map(|c| RateDecision {
                allowed: c[0] == 1,
                remaining: c[1].max(0) as u64,
                reset_after: us(c[2]),
                retry_after: us(c[3]),
            })
            .collect())
    }

    pub(crate) async fn count_hit(&self, key: String, window: Duration) -> Result<u64, StoreError> {
        let conn = self.conn()?;
        let k = format!("{}:ct:{{{}}}", self.prefix, safe_key(&key));
        let c: i64 = conn.script(&COUNT, &[&k], &[ms(window).max(1).to_string()]).await?;
        Ok(c.max(0) as u64)
    }

    pub(crate) async fn ban_escalate(
        &self,
        ip: IpAddr,
        esc: Escalation,
        reason: String,
        now_ms: u64,
    ) -> Result<Ban, StoreError> {
        let conn = self.conn()?;
        let args = [
            ip.to_string(),
            now_ms.to_string(),
            ms(esc.base).to_string(),
            esc.factor.to_string(),
            ms(esc.max).to_string(),
            ms(esc.forget_after).to_string(),
            reason.clone(),
        ];
        let (till, level): (String, i64) =
            conn.script(&BAN_ESCALATE, &[&self.active_key, &self.levels_key], &args).await?;
        let until_ms = till.parse().map_err(|_| StoreError::Redis(format!("ban script returned {till:?}")))?;
        let ban = Ban { ip, until_ms, level: u32::try_from(level).unwrap_or(1), reason };
        self.bans.ban_set(ban.clone(), now_ms);
        Ok(ban)
    }

    pub(crate) async fn ban_set(&self, ban: Ban) -> Result<(), StoreError> {
        let conn = self.conn()?;
        let () = conn.cmd(redis::cmd("HSET").arg(&self.active_key).arg(ban.ip.to_string()).arg(ban.encode())).await?;
        self.bans.ban_set(ban, unix_ms());
        Ok(())
    }

    pub(crate) async fn ban_remove(&self, ip: IpAddr) -> Result<bool, StoreError> {
        let conn = self.conn()?;
        let now = unix_ms();
        let cur: Option<String> = conn.cmd(redis::cmd("HGET").arg(&self.active_key).arg(ip.to_string())).await?;
        let (): () = conn.cmd(redis::cmd("HDEL").arg(&self.active_key).arg(ip.to_string())).await?;
        let (): () = conn.cmd(redis::cmd("HDEL").arg(&self.levels_key).arg(ip.to_string())).await?;
        self.bans.ban_remove(ip, now);
        Ok(cur.and_then(|s| Ban::decode(ip, &s)).is_some_and(|b| b.active(now)))
    }

    pub(crate) async fn fetch_bans(&self) -> Result<Vec<Ban>, StoreError> {
        let conn = self.conn()?;
        let now = unix_ms();
        let all: Vec<(String, String)> = conn.cmd(redis::cmd("HGETALL").arg(&self.active_key)).await?;
        let mut bans: Vec<Ban> =
            all.iter().filter_map(|(ip, v)| Ban::decode(ip.parse().ok()?, v)).filter(|b| b.active(now)).collect();
        bans.sort_by_key(|b| b.until_ms);
        Ok(bans)
    }

    async fn sweep(&self) -> Result<i64, StoreError> {
        let conn = self.conn()?;
        Ok(conn.script(&SWEEP, &[&self.active_key, &self.levels_key], &[unix_ms().to_string()]).await?)
    }
}

async fn connect(target: &RedisTarget, timeout: Duration) -> RedisResult<Conn> {
    match target {
        RedisTarget::Standalone(url) => {
            let client = redis::Client::open(url.as_str())?;
            let config = redis::aio::ConnectionManagerConfig::new()
                .set_connection_timeout(Duration::from_millis(500).max(timeout))
                .set_response_timeout(timeout)
                // Reconnect quickly and keep trying: a failed reconnect ends with the next failing call
                // starting another one.
                .set_number_of_retries(2)
                .set_factor(10)
                .set_max_delay(100);
            Ok(Conn::Single(client.get_connection_manager_with_config(config).await?))
        }
        RedisTarget::Cluster(nodes) => {
            let client = redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                .connection_timeout(Duration::from_millis(500).max(timeout))
                .response_timeout(timeout)
                .retries(1)
                .build()?;
            Ok(Conn::Cluster(client.get_async_connection().await?))
        }
    }
}

/// Keys embed client-controlled text (header values): long ones, and ones with braces that would change the
/// hash tag, are replaced by their SHA-1.
fn safe_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.len() <= 96 && !key.contains(['{', '}']) {
        std::borrow::Cow::Borrowed(key)
    } else {
        use sha1::Digest;
        std::borrow::Cow::Owned(format!("h:{}", hex::encode(sha1::Sha1::digest(key.as_bytes()))))
    }
}
