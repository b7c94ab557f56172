//! go-ftw regression-suite runner: loads YAML tests, drives a WAF over real sockets, reads its match log.
