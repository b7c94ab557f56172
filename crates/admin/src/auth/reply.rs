//! The admin API's refusals as RFC 9457 problem+json, with the `WWW-Authenticate` challenge a 401 needs.
//! Bodies are generic (which credential was wrong is for the security log only).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_pipeline::Problem;

/// The realm named in every challenge.
pub const REALM: &str = "portcullis-admin";

pub fn problem(p: Problem) -> Response {
    let mut resp = (p.status, p.body_json(None)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (k, v) in p.headers {
        h.append(k, v);
    }
    resp
}

/// 401 with `WWW-Authenticate: Bearer realm=…` (RFC 6750), plus `error="invalid_token"` when a token was sent.
pub fn unauthorized(detail: &str, invalid_token: bool) -> Response {
    let challenge = if invalid_token {
        format!("Bearer realm=\"{REALM}\", error=\"invalid_token\"")
    } else {
        format!("Bearer realm=\"{REALM}\"")
    };
    problem(Problem::new(StatusCode::UNAUTHORIZED, detail).with_header(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).unwrap_or(HeaderValue::from_static("Bearer")),
    ))
}

/// 503: the admin API has no users (or no users database) yet; never falls back to open.
pub fn not_set_up() -> Response {
    problem(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "The admin API has no admin users yet, so it refuses every request. Set [admin] users_db in the config \
         and create a user with `portcullis admin add-user NAME --config FILE`.",
    ))
}

/// 429 with `Retry-After` (whole seconds, rounded up).
pub fn locked_out(retry: std::time::Duration) -> Response {
    let secs = retry.as_secs() + u64::from(retry.subsec_nanos() > 0);
    problem(
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "Too many failed logins; try again later.")
            .with_header(header::RETRY_AFTER, HeaderValue::from(secs.max(1))),
    )
}

pub fn internal() -> Response {
    problem(Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "The admin API could not complete this request."))
}
