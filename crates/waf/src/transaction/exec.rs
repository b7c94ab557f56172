//! Executing per-match actions: `setvar`, `ctl`, `initcol`, `expirevar`, `setenv`.

use super::Transaction;
use crate::actions::{Action, Ctl, SetOp, SetVar};
use crate::operators::numeric_atoi as atoi;
use crate::variables::Var;
use std::time::Duration;

/// Longest value a `setvar` may store (defends against `=+` string growth and huge macro expansions).
const MAX_VAR_LEN: usize = 64 * 1024;
/// Most `TX` entries; beyond it new keys are dropped (rules come from users, keys can hold request data).
const MAX_TX_VARS: usize = 4096;

impl Transaction {
    pub(crate) fn exec_action(&mut self, a: &Action) {
        match a {
            Action::SetVar(sv) => self.setvar(sv),
            Action::Ctl(c) => self.ctl(c),
            Action::InitCol { collection, key } => {
                let k = String::from_utf8_lossy(&key.expand(&*self)).into_owned();
                let timeout = Duration::from_secs(self.engine.settings.collection_timeout_secs);
                let rec = self.engine.store.load(&format!("{}:{k}", crate::variables::name_of(*collection)), timeout);
                self.persistent.retain(|(v, _, _)| v != collection);
                self.persistent.push((*collection, k, rec));
            }
            Action::ExpireVar { collection, key, seconds } => {
                // TX lives one transaction, so only persistent collections keep a deadline.
                let k = String::from_utf8_lossy(&key.expand(&*self)).to_ascii_lowercase();
                let secs = u64::try_from(seconds.with_expanded(&*self, atoi)).unwrap_or(0);
                let Some((_, _, map)) = self.persistent.iter_mut().find(|(v, _, _)| v == collection) else { return };
                if map.len() >= MAX_TX_VARS && !map.contains_key(&k) {
                    return;
                }
                let deadline = crate::persist::unix_now().saturating_add(secs);
                map.insert(format!("{}{k}", crate::persist::EXPIRE_PREFIX), deadline.to_string().into_bytes());
            }
            Action::SetEnv { name, value } => {
                let n = String::from_utf8_lossy(&name.expand(&*self)).to_ascii_lowercase();
                let v = value.expand(&*self);
                self.env.insert(n, v);
            }
        }
    }

    fn setvar(&mut self, sv: &SetVar) {
        if let Some(k) = &sv.static_key {
            return self.setvar_keyed(sv, k, sv.static_hash);
        }
        // a dynamic key (`setvar:'tx.header_name_920450_%{tx.0}=...'`, once per request header) is expanded into
        // the transaction's reused buffers, not a new `Vec` and `String` per run
        let mut raw = std::mem::take(&mut self.expand_buf);
        raw.clear();
        sv.key.expand_into(&*self, &mut raw);
        let mut key = std::mem::take(&mut self.setvar_key);
        key.clear();
        super::collect::push_lossy(&mut key, &raw);
        key.make_ascii_lowercase();
        self.expand_buf = raw;
        let h = super::tx_hash(key.as_bytes());
        self.setvar_keyed(sv, &key, h);
        self.setvar_key = key;
    }

    /// `setvar` of `key` (lowercase), `h` being its `TX` hash (`tx_hash`; read only for `TX`).
    fn setvar_keyed(&mut self, sv: &SetVar, key: &str, h: u64) {
        if sv.collection == Var::Tx && !self.pinned.is_empty() && self.pinned.iter().any(|p| p == key) {
            // the gateway pinned this key for the transaction (`Transaction::pin_tx`)
            return;
        }
        if sv.collection == Var::Tx && matches!(sv.op, SetOp::Add | SetOp::Sub) {
            // `tx.score=+%{tx.critical_anomaly_score}`: numeric, no value copy needed
            // the key's hash serves its read and its write
            let cur = self.tx.get_hashed(&self.arena, h, key.as_bytes());
            if cur.is_none() && self.tx.len() >= MAX_TX_VARS {
                return;
            }
            let d = sv.value.with_expanded(&*self, atoi);
            // the operand's expansion reads `TX` but writes nothing: `cur` still holds
            let cur = cur.map(|(_, v)| atoi(self.get(v))).unwrap_or(0);
            let n = combine(sv.op, cur, d);
            let mut buf = itoa::Buffer::new();
            self.tx_set_hashed(h, key, buf.format(n).as_bytes());
            return;
        }
        if sv.collection == Var::Tx && sv.op == SetOp::Set {
            // `setvar:tx.x=1` and other macro-free values: no expansion buffer
            if let Some(v) = sv.value.as_static() {
                if self.tx.len() >= MAX_TX_VARS && self.tx.get_hashed(&self.arena, h, key.as_bytes()).is_none() {
                    return;
                }
                self.tx_set_hashed(h, key, &v[..v.len().min(MAX_VAR_LEN)]);
                return;
            }
        }
        let mut value = std::mem::take(&mut self.expand_buf);
        value.clear();
        sv.value.expand_into(&*self, &mut value);
        value.truncate(MAX_VAR_LEN);
        if sv.collection == Var::Tx {
            self.setvar_tx(sv, key, h, &value);
            self.expand_buf = value;
            return;
        }
        let Some((_, _, map)) = self.persistent.iter_mut().find(|(v, _, _)| *v == sv.collection) else { return };
        if map.len() >= MAX_TX_VARS && !map.contains_key(key) && sv.op != SetOp::Delete {
            return;
        }
        match sv.op {
            SetOp::Delete => {
                map.remove(key);
            }
            SetOp::Set => {
                map.insert(key.to_string(), value);
            }
            SetOp::Add | SetOp::Sub => {
                let cur = map.get(key).map(|v| atoi(v)).unwrap_or(0);
                let n = combine(sv.op, cur, atoi(&value));
                map.insert(key.to_string(), n.to_string().into_bytes());
            }
        }
    }

    /// `setvar` on `TX` with the value expanded (`h`: the key's hash).
    fn setvar_tx(&mut self, sv: &SetVar, key: &str, h: u64, value: &[u8]) {
        if self.tx.len() >= MAX_TX_VARS
            && self.tx.get_hashed(&self.arena, h, key.as_bytes()).is_none()
            && sv.op != SetOp::Delete
        {
            return;
        }
        match sv.op {
            SetOp::Delete => {
                self.settle_text();
                self.tx.remove(&self.arena, key.as_bytes());
            }
            SetOp::Set => self.tx_set_hashed(h, key, value),
            SetOp::Add | SetOp::Sub => {
                let cur =
                    self.tx.get_hashed(&self.arena, h, key.as_bytes()).map(|(_, v)| atoi(self.get(v))).unwrap_or(0);
                let n = combine(sv.op, cur, atoi(value));
                let mut buf = itoa::Buffer::new();
                self.tx_set_hashed(h, key, buf.format(n).as_bytes());
            }
        }
    }

    fn ctl(&mut self, c: &Ctl) {
        match c {
            Ctl::RuleEngine(m) => self.mode = *m,
            Ctl::RuleRemoveById(r) => self.excl.ids.extend(r.iter().copied()),
            Ctl::RuleRemoveByTag(t) => {
                if let Some(ids) = self.engine.rules.tag_index.get(&t.to_ascii_lowercase()) {
                    self.excl.removed.extend(ids.iter().copied());
                }
            }
            Ctl::RuleRemoveByMsg(m) => {
                if let Some(ids) = self.engine.rules.msg_index.get(m) {
                    self.excl.removed.extend(ids.iter().copied());
                }
            }
            Ctl::RuleRemoveTargetById(r, t) => {
                let engine = std::sync::Arc::clone(&self.engine);
                self.excl.targets.add(engine.rules.ids_in(r), t);
            }
            Ctl::RuleRemoveTargetByTag(b) => match &b.ids {
                // resolved when the rule set was built (`TargetsByTag::resolve`): sorted, no repeats
                Some(ids) => self.excl.targets.add_sorted(ids, &b.targets),
                None => {
                    let engine = std::sync::Arc::clone(&self.engine);
                    if let Some(ids) = engine.rules.tag_index.get(&b.tag.to_ascii_lowercase()) {
                        self.excl.targets.add(ids.iter().copied(), &b.targets);
                    }
                }
            },
            Ctl::RuleRemoveTargetByMsg(m, t) => {
                let engine = std::sync::Arc::clone(&self.engine);
                if let Some(ids) = engine.rules.msg_index.get(m) {
                    self.excl.targets.add(ids.iter().copied(), t);
                }
            }
            Ctl::RequestBodyProcessor(p) => self.req.body_processor = Some(p.clone()),
            Ctl::ForceRequestBodyVariable(b) => self.force_body_variable = *b,
            Ctl::RequestBodyAccess(b) => self.request_body_access = *b,
            Ctl::ResponseBodyAccess(b) => self.response_body_access = *b,
            Ctl::RequestBodyLimit(_) | Ctl::AuditEngine(_) | Ctl::AuditLogParts(_) | Ctl::DebugLogLevel(_) => {}
        }
    }
}

fn combine(op: SetOp, cur: i64, d: i64) -> i64 {
    if op == SetOp::Add {
        cur.saturating_add(d)
    } else {
        cur.saturating_sub(d)
    }
}
