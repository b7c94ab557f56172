//! Whole-config validation: every cross-key rule, every problem reported at once with its key path.

use std::collections::HashMap;
use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::{Balance, Config, ConfigError, ConfigErrors, WafMode};

/// Checks a parsed config; `Err` holds every problem found.
pub fn validate(config: &Config) -> Result<(), ConfigErrors> {
    let mut v = Validator { config, errors: Vec::new() };
    v.listeners();
    v.upstreams();
    v.routes();
    v.headers();
    v.limits();
    v.waf();
    v.errors.extend(crate::admin::validate(config));
    crate::ipguard::validate(config, &mut v.errors);
    crate::keys::validate(config, &mut v.errors);
    crate::traffic::validate_traffic(&config.file, &mut v.errors);
    crate::jwt::validate(config, &mut v.errors);
    crate::mtls::validate(config, &mut v.errors);
    if v.errors.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors { file: config.source.as_ref().map(|p| p.display().to_string()), errors: v.errors })
    }
}

struct Validator<'a> {
    config: &'a Config,
    errors: Vec<ConfigError>,
}

impl Validator<'_> {
    fn err(&mut self, path: impl Into<String>, msg: impl Into<String>) {
        self.errors.push(ConfigError::new(path, msg));
    }

    fn listeners(&mut self) {
        let f = &self.config.file;
        if f.listeners.is_empty() {
            self.err("listeners", "at least one listener is required");
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut addrs = HashMap::new();
        for (i, l) in f.listeners.iter().enumerate() {
            let p = format!("listeners[{i}]");
            if l.name.is_empty() {
                self.err(format!("{p}.name"), "must not be empty");
            } else if let Some(j) = names.insert(&l.name, i) {
                self.err(format!("{p}.name"), format!("duplicate listener name {:?} (also listeners[{j}])", l.name));
            }
            // Port 0 asks the OS for a free port, so it never clashes.
            if l.address.port() == 0 {
            } else if let Some(j) = addrs.insert(l.address, i) {
                self.err(
                    format!("{p}.address"),
                    format!("duplicate listener address {} (also listeners[{j}])", l.address),
                );
            }
            if f.admin.enabled && f.admin.address == l.address && l.address.port() != 0 {
                self.err(format!("{p}.address"), format!("{} is also the admin address", l.address));
            }
            if let Some(tls) = &l.tls {
                if l.redirect_https_port.is_some() {
                    self.err(
                        format!("{p}.redirect_https_port"),
                        "only a plain (non-TLS) listener can redirect to HTTPS",
                    );
                }
                if tls.certificates.is_empty() {
                    self.err(format!("{p}.tls.certificates"), "at least one certificate is required");
                }
                for (k, c) in tls.certificates.iter().enumerate() {
                    let cp = format!("{p}.tls.certificates[{k}]");
                    self.cert_file(&format!("{cp}.cert"), &c.cert);
                    self.key_file(&format!("{cp}.key"), &c.key);
                    for (n, name) in c.sni.iter().enumerate() {
                        if !valid_host_pattern(name) {
                            self.err(format!("{cp}.sni[{n}]"), format!("{name:?} is not a host name"));
                        }
                    }
                }
            }
        }
    }

    fn cert_file(&mut self, path: &str, file: &Path) {
        let full = self.config.resolve(file);
        match std::fs::read(&full) {
            Err(e) => self.err(path, format!("cannot read {}: {e}", full.display())),
            Ok(pem) => {
                let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
                match certs {
                    Ok(c) if !c.is_empty() => {}
                    Ok(_) => self.err(path, format!("{} holds no PEM certificate", full.display())),
                    Err(e) => self.err(path, format!("{} is not a valid PEM certificate file: {e}", full.display())),
                }
            }
        }
    }

    fn key_file(&mut self, path: &str, file: &Path) {
        let full = self.config.resolve(file);
        match std::fs::read(&full) {
            Err(e) => self.err(path, format!("cannot read {}: {e}", full.display())),
            Ok(pem) => {
                if let Err(e) = PrivateKeyDer::from_pem_slice(&pem) {
                    self.err(path, format!("{} holds no usable PEM private key: {e}", full.display()));
                }
            }
        }
    }

    fn upstreams(&mut self) {
        let f = &self.config.file;
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, u) in f.upstreams.iter().enumerate() {
            let p = format!("upstreams[{i}]");
            if u.name.is_empty() {
                self.err(format!("{p}.name"), "must not be empty");
            } else if let Some(j) = names.insert(&u.name, i) {
                self.err(format!("{p}.name"), format!("duplicate upstream name {:?} (also upstreams[{j}])", u.name));
            }
            if u.targets.is_empty() {
                self.err(format!("{p}.targets"), "at least one target is required");
            }
            for (k, t) in u.targets.iter().enumerate() {
                if let Err(msg) = check_target(t) {
                    self.err(format!("{p}.targets[{k}]"), msg);
                }
            }
            match (u.balance, &u.hash_key) {
                (Balance::ConsistentHash, None) => {
                    self.err(format!("{p}.hash_key"), "required with balance = \"consistent_hash\"")
                }
                (Balance::ConsistentHash, Some(k)) if !valid_hash_key(k) => self.err(
                    format!("{p}.hash_key"),
                    format!("{k:?} is not one of client_ip, path, header:NAME, cookie:NAME"),
                ),
                (b, Some(_)) if b != Balance::ConsistentHash => {
                    self.err(format!("{p}.hash_key"), "only used with balance = \"consistent_hash\"")
                }
                _ => {}
            }
            if let Some(tls) = &u.tls {
                if let Some(ca) = &tls.ca {
                    self.cert_file(&format!("{p}.tls.ca"), ca);
                }
                if let Some(sni) = &tls.sni {
                    if rustls_pki_types::ServerName::try_from(sni.as_str()).is_err() {
                        self.err(format!("{p}.tls.sni"), format!("{sni:?} is not a valid server name"));
                    }
                }
            }
            if let Some(h) = &u.health {
                if !h.path.starts_with('/') {
                    self.err(format!("{p}.health.path"), "must start with '/'");
                }
                if h.healthy_threshold == 0 {
                    self.err(format!("{p}.health.healthy_threshold"), "must be at least 1");
                }
                if h.unhealthy_threshold == 0 {
                    self.err(format!("{p}.health.unhealthy_threshold"), "must be at least 1");
                }
                if h.interval.0.is_zero() {
                    self.err(format!("{p}.health.interval"), "must be more than 0");
                }
            }
            if u.timeouts.connect.0.is_zero() || u.timeouts.response.0.is_zero() || u.timeouts.total.0.is_zero() {
                self.err(format!("{p}.timeouts"), "timeouts must be more than 0");
            }
        }
    }

    fn routes(&mut self) {
        let f = &self.config.file;
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (i, r) in f.routes.iter().enumerate() {
            let p = format!("routes[{i}]");
            if r.name.is_empty() {
                self.err(format!("{p}.name"), "must not be empty");
            } else if let Some(j) = names.insert(&r.name, i) {
                self.err(format!("{p}.name"), format!("duplicate route name {:?} (also routes[{j}])", r.name));
            }
            let actions = [r.upstream.is_some(), r.respond.is_some(), r.redirect.is_some()];
            match actions.iter().filter(|a| **a).count() {
                0 => self.err(&p, "needs one action: upstream, respond or redirect"),
                1 => {}
                _ => self.err(&p, "has more than one action; choose one of upstream, respond, redirect"),
            }
            if let Some(u) = &r.upstream {
                if !f.upstreams.iter().any(|x| &x.name == u) {
                    self.err(format!("{p}.upstream"), format!("no upstream named {u:?}"));
                }
            }
            if (r.strip_prefix.is_some() || r.add_prefix.is_some()) && r.upstream.is_none() {
                self.err(&p, "strip_prefix/add_prefix only apply to routes with an upstream");
            }
            for (key, v) in [("strip_prefix", &r.strip_prefix), ("add_prefix", &r.add_prefix)] {
                if let Some(v) = v {
                    if !v.starts_with('/') {
                        self.err(format!("{p}.{key}"), "must start with '/'");
                    }
                }
            }
            if let Some(resp) = &r.respond {
                if !(100..=599).contains(&resp.status) {
                    self.err(format!("{p}.respond.status"), format!("{} is not an HTTP status", resp.status));
                }
                if http::HeaderValue::from_str(&resp.content_type).is_err() {
                    self.err(format!("{p}.respond.content_type"), "is not a valid header value");
                }
            }
            if let Some(red) = &r.redirect {
                if ![301, 302, 303, 307, 308].contains(&red.status) {
                    self.err(format!("{p}.redirect.status"), format!("{} is not a redirect status", red.status));
                }
                if http::HeaderValue::from_str(&red.to).is_err() || red.to.is_empty() {
                    self.err(format!("{p}.redirect.to"), "is not a valid Location");
                }
            }
            let m = &r.matcher;
            let paths = [m.path.is_some(), m.path_prefix.is_some(), m.path_regex.is_some()];
            if paths.iter().filter(|a| **a).count() > 1 {
                self.err(format!("{p}.match"), "use only one of path, path_prefix, path_regex");
            }
            for (key, v) in [("path", &m.path), ("path_prefix", &m.path_prefix)] {
                if let Some(v) = v {
                    if !v.starts_with('/') {
                        self.err(format!("{p}.match.{key}"), "must start with '/'");
                    }
                }
            }
            if let Some(re) = &m.path_regex {
                if let Err(e) = regex::Regex::new(re) {
                    self.err(format!("{p}.match.path_regex"), format!("invalid regex: {e}"));
                }
            }
            for (k, h) in m.hosts.iter().enumerate() {
                if !valid_host_pattern(h) {
                    self.err(format!("{p}.match.hosts[{k}]"), format!("{h:?} is not a host or *.wildcard"));
                }
            }
            for (k, meth) in m.methods.iter().enumerate() {
                if http::Method::from_bytes(meth.as_bytes()).is_err() || meth.to_ascii_uppercase() != *meth {
                    self.err(format!("{p}.match.methods[{k}]"), format!("{meth:?} is not an upper-case HTTP method"));
                }
            }
            for name in m.headers.keys() {
                if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    self.err(format!("{p}.match.headers"), format!("{name:?} is not a header name"));
                }
            }
        }
    }

    fn headers(&mut self) {
        let h = &self.config.file.headers;
        for (key, names) in [
            ("request_set", h.request_set.keys().collect::<Vec<_>>()),
            ("response_set", h.response_set.keys().collect()),
            ("request_remove", h.request_remove.iter().collect()),
            ("response_remove", h.response_remove.iter().collect()),
        ] {
            for n in names {
                if http::HeaderName::from_bytes(n.as_bytes()).is_err() {
                    self.err(format!("headers.{key}"), format!("{n:?} is not a header name"));
                }
            }
        }
        for (key, map) in [("request_set", &h.request_set), ("response_set", &h.response_set)] {
            for (n, v) in map {
                if http::HeaderValue::from_str(v).is_err() {
                    self.err(format!("headers.{key}.{n}"), "is not a valid header value");
                }
            }
        }
    }

    fn limits(&mut self) {
        let l = &self.config.file.limits;
        if l.max_header_bytes.0 < 1024 {
            self.err("limits.max_header_bytes", "must be at least 1024");
        }
        if l.max_headers == 0 {
            self.err("limits.max_headers", "must be at least 1");
        }
        if l.max_uri_bytes.0 < 16 {
            self.err("limits.max_uri_bytes", "must be at least 16");
        }
        if l.h2_max_concurrent_streams == 0 {
            self.err("limits.h2_max_concurrent_streams", "must be at least 1");
        }
    }
}

impl Validator<'_> {
    /// The rule files must exist (each glob must match a file) whenever some route may run the WAF. The rules
    /// themselves are compiled when the runtime is built (and by `check-config`), with file:line errors.
    fn waf(&mut self) {
        let f = &self.config.file;
        let used = f.waf.mode != WafMode::Off
            || f.routes.iter().any(|r| r.waf.as_ref().and_then(|w| w.mode).is_some_and(|m| m != WafMode::Off));
        if !used {
            return;
        }
        if f.waf.rules.is_empty() {
            self.err("waf.rules", "at least one rule source is required when the WAF is on (\"builtin\" or a file)");
        }
        for (i, m) in f.waf.allowed_methods.iter().enumerate() {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                self.err(format!("waf.allowed_methods[{i}]"), format!("{m:?} is not an upper-case method name"));
            }
        }
        for (i, pattern) in f.waf.rule_files() {
            let full = self.config.resolve(pattern);
            let text = full.to_string_lossy();
            if text.contains(['*', '?', '[']) {
                match glob::glob(&text) {
                    Err(e) => self.err(format!("waf.rules[{i}]"), format!("bad glob {text:?}: {e}")),
                    Ok(paths) => {
                        if !paths.filter_map(Result::ok).any(|p| p.is_file()) {
                            self.err(format!("waf.rules[{i}]"), format!("{text:?} matches no file"));
                        }
                    }
                }
            } else if !full.is_file() {
                self.err(format!("waf.rules[{i}]"), format!("cannot read {}: no such file", full.display()));
            }
        }
        for (i, r) in f.routes.iter().enumerate() {
            if let Some(pl) = r.waf.as_ref().and_then(|w| w.paranoia_level) {
                if !(1..=4).contains(&pl) {
                    self.err(
                        format!("routes[{i}].waf.paranoia_level"),
                        format!("{pl} is not a paranoia level (1 to 4)"),
                    );
                }
            }
        }
        for (name, limit) in
            [("request_body_limit", f.waf.request_body_limit), ("response_body_limit", f.waf.response_body_limit)]
        {
            if limit.is_some_and(|l| l.0 == 0) {
                self.err(format!("waf.{name}"), "must be greater than 0");
            }
        }
    }
}

fn check_target(t: &str) -> Result<(), String> {
    let (host, port) = t.rsplit_once(':').ok_or_else(|| format!("{t:?} must be host:port"))?;
    port.parse::<u16>().map_err(|_| format!("{t:?}: port {port:?} is not a number from 1 to 65535"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{t:?} has no host"));
    }
    Ok(())
}

fn valid_hash_key(k: &str) -> bool {
    match k {
        "client_ip" | "path" => true,
        _ => {
            let name = k.strip_prefix("header:").or_else(|| k.strip_prefix("cookie:"));
            name.is_some_and(|n| !n.is_empty() && http::HeaderName::from_bytes(n.as_bytes()).is_ok())
        }
    }
}

fn valid_host_pattern(h: &str) -> bool {
    let h = h.strip_prefix("*.").unwrap_or(h);
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn errors(text: &str) -> Vec<String> {
        match Config::from_str_at(text, None, PathBuf::from(".")) {
            Ok(_) => vec![],
            Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
        }
    }

    const BASE: &str = r#"
[[listeners]]
name = "web"
address = "127.0.0.1:18080"
[[upstreams]]
name = "shop"
targets = ["127.0.0.1:3000"]
"#;

    #[test]
    fn valid_minimal() {
        assert!(errors(&format!("{BASE}\n[[routes]]\nname=\"a\"\nupstream=\"shop\"\n")).is_empty());
    }

    #[test]
    fn waf_rules_are_required_and_must_exist_when_a_route_runs_the_waf() {
        let route = "[[routes]]\nname=\"a\"\nupstream=\"shop\"\n";
        // On by default with the built-in pack: nothing to check.
        assert!(errors(&format!("{BASE}\n{route}")).is_empty());
        assert!(errors(&format!("{BASE}\n[waf]\nrules=[\"builtin\"]\n{route}")).is_empty());
        let e = errors(&format!("{BASE}\n[waf]\nrules=[]\n{route}"));
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(e[0].starts_with("waf.rules: at least one rule source"), "{e:#?}");
        let e = errors(&format!("{BASE}\n[waf]\nallowed_methods=[\"GET\", \"get\"]\n{route}"));
        assert!(e.len() == 1 && e[0].starts_with("waf.allowed_methods[1]"), "{e:#?}");
        assert!(errors(&format!("{BASE}\n[waf]\nsensitivity=\"paranoid\"\n"))[0].starts_with("waf.sensitivity"));
        let e = errors(&format!(
            "{BASE}\n[waf]\nrules=[\"no/such.conf\", \"no/*.conf\"]\n{route}waf = {{ mode = \"detection_only\" }}\n"
        ));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(e[0].starts_with("waf.rules[0]: cannot read") && e[1].starts_with("waf.rules[1]:"), "{e:#?}");
        assert!(errors(&format!("{BASE}\n[waf]\nmode=\"sometimes\"\n"))[0].starts_with("waf.mode"));
    }

    #[test]
    fn a_route_paranoia_level_is_one_to_four() {
        let route =
            |pl: u8| format!("{BASE}\n[[routes]]\nname=\"a\"\nupstream=\"shop\"\nwaf = {{ paranoia_level = {pl} }}\n");
        assert!(errors(&route(1)).is_empty() && errors(&route(4)).is_empty());
        for bad in [0, 5] {
            let e = errors(&route(bad));
            assert_eq!(e, [format!("routes[0].waf.paranoia_level: {bad} is not a paranoia level (1 to 4)")]);
        }
    }

    #[test]
    fn dangling_upstream_names_the_key_path() {
        let e = errors(&format!(
            "{BASE}\n[[routes]]\nname=\"a\"\nupstream=\"shop\"\n[[routes]]\nname=\"b\"\nupstream=\"billing\"\n"
        ));
        assert_eq!(e, vec![r#"routes[1].upstream: no upstream named "billing""#]);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let e = errors(&format!(
            "{BASE}\n[[listeners]]\nname=\"web\"\naddress=\"127.0.0.1:18080\"\n[[routes]]\nname=\"x\"\n[routes.match]\npath_regex=\"(\"\n"
        ));
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("listeners[1].name: duplicate"));
        assert!(e[1].starts_with("listeners[1].address: duplicate"));
        assert!(e[2].starts_with("routes[0]: needs one action"));
        assert!(e[3].starts_with("routes[0].match.path_regex: invalid regex"));
    }

    #[test]
    fn unknown_key_has_path_and_line() {
        let e = errors("[[listeners]]\nname = \"web\"\naddres = \"127.0.0.1:1\"\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("listeners[0].addres (line 3, column 1): unknown field `addres`"), "{e:?}");
    }

    #[test]
    fn wrong_type_has_path() {
        let e = errors(&format!("{BASE}\n[limits]\nmax_headers = \"many\"\n"));
        assert!(e[0].starts_with("limits.max_headers"), "{e:?}");
        let e = errors(&format!("{BASE}\n[server]\nshutdown_grace = \"soon\"\n"));
        assert!(e[0].contains("invalid duration"), "{e:?}");
    }

    #[test]
    fn targets_and_hash_keys() {
        assert!(check_target("127.0.0.1:80").is_ok());
        assert!(check_target("[::1]:80").is_ok());
        assert!(check_target("host").is_err());
        assert!(check_target("host:99999").is_err());
        assert!(valid_hash_key("header:X-User"));
        assert!(!valid_hash_key("header:"));
        assert!(!valid_hash_key("query"));
    }
}
