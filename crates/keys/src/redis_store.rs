//! The key store on Redis, for fleets: every gateway, the CLI and every admin API read and write one store, so
//! a key created through one node works on all, and a revocation bumps the shared change counter that every
//! gateway's verifier polls (≤ `poll_interval`, at most 1 s) and drops its cache on.
//!
//! Layout under `prefix` (default `portcullis:keys`):
//!
//! | key                 | type   | holds                                                                  |
//! |---------------------|--------|------------------------------------------------------------------------|
//! | `P:key:<id>`        | hash   | one record: name, env, hash (hex HMAC), scopes, times, status, limits… |
//! | `P:index`           | zset   | key ids scored by creation time (listing, newest first)                |
//! | `P:seq`             | string | the change counter                                                     |
//! | `P:audit`, `P:audit:<id>` | list | audit events as JSON, newest first (the last 100 000)                     |
//! | `P:fingerprint`     | string | the server secret's fingerprint (set once)                             |
//!
//! Records are looked up by the public key id, like the SQLite store, so lookup time never depends on the
//! secret; what is stored of the secret is only its keyed hash. Each change (record, index, counter, audit) is
//! one Lua script, so it is atomic and other nodes never see half of it.
//!
//! Calls are blocking with a read/write timeout (the trait is synchronous; the request path calls it only on a
//! cache miss). Connections are pooled; a failed one is dropped and the next call reconnects.
//!
//! Owns: the Redis layout and scripts. Must not touch: what a key means (lifecycle.rs, verifier.rs).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use redis::{Commands, Script};

use crate::format::KeyEnv;
use crate::hasher::KeyHash;
use crate::record::{KeyLimits, KeyRecord, KeyStatus, Rate};
use crate::store::{AuditEvent, KeyChange, KeyStore, StoreError, Usage};

const POOL_MAX: usize = 8;

const INSERT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('INCR', KEYS[3])
redis.call('LPUSH', KEYS[4], ARGV[3]); redis.call('LTRIM', KEYS[4], 0, 99999)
redis.call('LPUSH', KEYS[5], ARGV[3]); redis.call('LTRIM', KEYS[5], 0, 99999)
return 1
";

const UPDATE: &str = r"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'notfound' end
local kind = ARGV[1]
if (kind == 'rotate' or kind == 'expires') and st ~= 'active' then return 'revoked' end
if kind == 'rotate' then
  if ARGV[4] == '' then
    redis.call('HDEL', KEYS[1], 'prev_hash', 'prev_until')
  else
    redis.call('HSET', KEYS[1], 'prev_hash', redis.call('HGET', KEYS[1], 'hash'), 'prev_until', ARGV[4])
  end
  redis.call('HSET', KEYS[1], 'hash', ARGV[3])
elseif kind == 'status' then
  redis.call('HSET', KEYS[1], 'status', ARGV[3])
  redis.call('HDEL', KEYS[1], 'prev_hash', 'prev_until')
else
  redis.call('HSET', KEYS[1], 'expires', ARGV[3])
end
redis.call('INCR', KEYS[2])
redis.call('LPUSH', KEYS[3], ARGV[2]); redis.call('LTRIM', KEYS[3], 0, 99999)
redis.call('LPUSH', KEYS[4], ARGV[2]); redis.call('LTRIM', KEYS[4], 0, 99999)
return 'ok'
";

/// Last use only moves forward, and never recreates a deleted record.
const USAGE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local cur = tonumber(redis.call('HGET', KEYS[1], 'last_used') or '0')
if cur <= tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'last_used', ARGV[1], 'last_ip', ARGV[2]) end
return 1
";

/// The Redis key store.
pub struct RedisKeyStore {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    pool: Mutex<Vec<redis::Connection>>,
    insert: Script,
    update: Script,
    usage: Script,
    shown: String,
}

impl std::fmt::Debug for RedisKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKeyStore").field("url", &self.shown).field("prefix", &self.prefix).finish()
    }
}

/// The URL without any password, for messages.
fn redacted(url: &str) -> String {
    match url.split_once("://").and_then(|(s, rest)| rest.rsplit_once('@').map(|(_, host)| (s, host))) {
        Some((scheme, host)) => format!("{scheme}://…@{host}"),
        None => url.to_string(),
    }
}

impl RedisKeyStore {
    /// Connects (once, to fail early on a wrong address) to `url` (`redis://[:password@]host:port[/db]`).
    pub fn connect(url: &str, prefix: &str, timeout: Duration) -> Result<RedisKeyStore, StoreError> {
        let shown = redacted(url);
        let client =
            redis::Client::open(url).map_err(|e| StoreError::Db { path: shown.clone(), err: e.to_string() })?;
        let s = RedisKeyStore {
            client,
            prefix: prefix.to_string(),
            timeout,
            pool: Mutex::new(Vec::new()),
            insert: Script::new(INSERT),
            update: Script::new(UPDATE),
            usage: Script::new(USAGE),
            shown,
        };
        s.with(|c| redis::cmd("PING").query::<String>(c))?;
        Ok(s)
    }

    fn err(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Db { path: self.shown.clone(), err: e.to_string() }
    }

    /// Runs `f` on a pooled connection; a connection that failed is not returned to the pool.
    fn with<T>(&self, f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>) -> Result<T, StoreError> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match pooled {
            Some(c) => c,
            None => {
                let c = self.client.get_connection_with_timeout(self.timeout).map_err(|e| self.err(e))?;
                c.set_read_timeout(Some(self.timeout)).map_err(|e| self.err(e))?;
                c.set_write_timeout(Some(self.timeout)).map_err(|e| self.err(e))?;
                c
            }
        };
        let r = f(&mut conn).map_err(|e| self.err(e))?;
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_MAX {
            pool.push(conn);
        }
        Ok(r)
    }

    fn k(&self, what: &str) -> String {
        format!("{}:{what}", self.prefix)
    }
}

fn audit_json(a: &AuditEvent) -> String {
    serde_json::to_string(a).unwrap_or_default()
}

fn fields(r: &KeyRecord) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("id", r.id.clone()),
        ("name", r.name.clone()),
        ("env", r.env.as_str().to_string()),
        ("hash", hex::encode(r.hash)),
        ("scopes", r.scopes.join(",")),
        ("created", r.created.to_string()),
        ("status", r.status.as_str().to_string()),
    ];
    let mut opt = |name, value: Option<String>| {
        if let Some(x) = value {
            v.push((name, x));
        }
    };
    opt("expires", r.expires.map(|x| x.to_string()));
    opt("rate_limit", r.limits.rate_limit.map(|x| x.to_string()));
    opt("quota", r.limits.quota.map(|x| x.to_string()));
    opt("last_used", r.last_used.map(|x| x.to_string()));
    opt("last_ip", r.last_ip.clone());
    opt("prev_hash", r.prev_hash.map(hex::encode));
    opt("prev_until", r.prev_until.map(|x| x.to_string()));
    v
}

/// A record from its hash fields; `None` for a malformed one (named in the error by the caller).
fn from_fields(id: &str, m: &HashMap<String, String>) -> Option<KeyRecord> {
    let hash = |name: &str| -> Option<Option<KeyHash>> {
        match m.get(name) {
            None => Some(None),
            Some(h) => hex::decode(h).ok()?.try_into().ok().map(Some),
        }
    };
    let num = |name: &str| -> Option<Option<i64>> {
        match m.get(name) {
            None => Some(None),
            Some(x) => x.parse().ok().map(Some),
        }
    };
    let rate = |name: &str| -> Option<Option<Rate>> {
        match m.get(name) {
            None => Some(None),
            Some(x) => Rate::parse(x).ok().map(Some),
        }
    };
    Some(KeyRecord {
        id: id.to_string(),
        name: m.get("name")?.clone(),
        env: KeyEnv::parse(m.get("env")?)?,
        hash: hash("hash")??,
        scopes: m.get("scopes")?.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        created: num("created")??,
        expires: num("expires")?,
        status: KeyStatus::parse(m.get("status")?)?,
        limits: KeyLimits { rate_limit: rate("rate_limit")?, quota: rate("quota")? },
        last_used: num("last_used")?,
        last_ip: m.get("last_ip").cloned(),
        prev_hash: hash("prev_hash")?,
        prev_until: num("prev_until")?,
    })
}

impl KeyStore for RedisKeyStore {
    fn get(&self, id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let key = self.k(&format!("key:{id}"));
        let m: HashMap<String, String> = self.with(|c| c.hgetall(&key))?;
        if m.is_empty() {
            return Ok(None);
        }
        from_fields(id, &m).map(Some).ok_or_else(|| self.err(format!("record {key} is malformed")))
    }

    fn list(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let ids: Vec<String> = self.with(|c| c.zrevrange(self.k("index"), 0, -1))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            // A record removed behind the index's back is skipped, not an error.
            if let Some(r) = self.get(&id)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn insert(&self, r: &KeyRecord, audit: &AuditEvent) -> Result<(), StoreError> {
        let mut inv = self.insert.prepare_invoke();
        inv.key(self.k(&format!("key:{}", r.id)))
            .key(self.k("index"))
            .key(self.k("seq"))
            .key(self.k("audit"))
            .key(self.k(&format!("audit:{}", r.id)))
            .arg(&r.id)
            .arg(r.created)
            .arg(audit_json(audit));
        for (name, value) in fields(r) {
            inv.arg(name).arg(value);
        }
        let created: i64 = self.with(|c| inv.invoke(c))?;
        if created == 0 {
            return Err(StoreError::Exists(r.id.clone()));
        }
        Ok(())
    }

    fn update(&self, id: &str, change: &KeyChange, audit: &AuditEvent) -> Result<(), StoreError> {
        let (kind, a, b) = match change {
            KeyChange::Rotate { hash, prev_until } => {
                ("rotate", hex::encode(hash), prev_until.map(|x| x.to_string()).unwrap_or_default())
            }
            KeyChange::Status(s) => ("status", s.as_str().to_string(), String::new()),
            KeyChange::Expires(at) => ("expires", at.to_string(), String::new()),
        };
        let mut inv = self.update.prepare_invoke();
        inv.key(self.k(&format!("key:{id}")))
            .key(self.k("seq"))
            .key(self.k("audit"))
            .key(self.k(&format!("audit:{id}")))
            .arg(kind)
            .arg(audit_json(audit))
            .arg(a)
            .arg(b);
        let r: String = self.with(|c| inv.invoke(c))?;
        match r.as_str() {
            "ok" => Ok(()),
            "revoked" => Err(StoreError::Revoked(id.to_string())),
            _ => Err(StoreError::NotFound(id.to_string())),
        }
    }

    fn record_usage(&self, batch: &[Usage]) -> Result<(), StoreError> {
        for u in batch {
            let key = self.k(&format!("key:{}", u.id));
            self.with(|c| self.usage.key(&key).arg(u.at).arg(&u.ip).invoke::<i64>(c))?;
        }
        Ok(())
    }

    fn change_seq(&self) -> Result<i64, StoreError> {
        let v: Option<i64> = self.with(|c| c.get(self.k("seq")))?;
        Ok(v.unwrap_or(0))
    }

    fn audit(&self, key_id: Option<&str>, limit: usize) -> Result<Vec<AuditEvent>, StoreError> {
        let list = match key_id {
            Some(id) => self.k(&format!("audit:{id}")),
            None => self.k("audit"),
        };
        let stop = isize::try_from(limit).unwrap_or(isize::MAX).saturating_sub(1);
        let raw: Vec<String> = if limit == 0 { Vec::new() } else { self.with(|c| c.lrange(&list, 0, stop))? };
        raw.iter()
            .map(|s| {
                let v: serde_json::Value = serde_json::from_str(s).map_err(|e| self.err(e))?;
                let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
                Ok(AuditEvent {
                    at: v.get("at").and_then(|x| x.as_i64()).unwrap_or(0),
                    actor: text("actor"),
                    action: text("action"),
                    key_id: text("key_id"),
                    detail: text("detail"),
                })
            })
            .collect()
    }

    fn check_fingerprint(&self, fingerprint: &str) -> Result<(), StoreError> {
        let key = self.k("fingerprint");
        let _: bool = self.with(|c| c.set_nx(&key, fingerprint))?;
        let stored: String = self.with(|c| c.get(&key))?;
        if stored != fingerprint {
            return Err(StoreError::SecretMismatch { stored, configured: fingerprint.to_string() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_passwords() {
        assert_eq!(redacted("redis://:hunter2@127.0.0.1:6379/0"), "redis://…@127.0.0.1:6379/0");
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[test]
    fn records_round_trip_through_hash_fields() {
        let r = KeyRecord {
            id: "abc".into(),
            name: "n".into(),
            env: KeyEnv::Live,
            hash: [7; 32],
            scopes: vec!["users:read".into(), "orders:*".into()],
            created: 5,
            expires: Some(9),
            status: KeyStatus::Active,
            limits: KeyLimits { rate_limit: Some(Rate::parse("10/min").unwrap()), quota: None },
            last_used: None,
            last_ip: None,
            prev_hash: Some([1; 32]),
            prev_until: Some(8),
        };
        let m: HashMap<String, String> = fields(&r).into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        assert_eq!(from_fields("abc", &m), Some(r));
        let mut bad = m.clone();
        bad.insert("hash".into(), "zz".into());
        assert_eq!(from_fields("abc", &bad), None);
    }
}
