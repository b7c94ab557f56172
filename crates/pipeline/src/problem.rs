use http::{HeaderName, HeaderValue, StatusCode};

/// An RFC 9457 problem: what a client is told when Portcullis refuses or cannot serve a request.
///
/// Only public, generic wording goes in here; the reason for the log travels separately in
/// [`Problem::log_reason`] and is never sent to the client.
///
/// ```
/// use portcullis_pipeline::Problem;
/// let p = Problem::new(http::StatusCode::NOT_FOUND, "No route matches this request");
/// let body = p.body_json(Some("req-1"));
/// assert!(body.contains("\"status\":404"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub status: StatusCode,
    /// Short public summary; defaults to the status's reason phrase.
    pub title: String,
    /// Public explanation, safe to show anyone.
    pub detail: Option<String>,
    /// Extra response headers (e.g. `Retry-After`, `WWW-Authenticate`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Why, for the log only (rule ids, limits hit, upstream error text).
    pub log_reason: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            detail: Some(detail.into()),
            headers: Vec::new(),
            log_reason: None,
        }
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_log_reason(mut self, reason: impl Into<String>) -> Self {
        self.log_reason = Some(reason.into());
        self
    }

    /// The `application/problem+json` body. `request_id` lets a user quote the request to an operator.
    pub fn body_json(&self, request_id: Option<&str>) -> String {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
        });
        if let Some(detail) = &self.detail {
            body["detail"] = serde_json::Value::String(detail.clone());
        }
        if let Some(id) = request_id {
            body["request_id"] = serde_json::Value::String(id.to_string());
        }
        body.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_never_carries_the_log_reason() {
        let p = Problem::new(StatusCode::BAD_GATEWAY, "The upstream service is unavailable")
            .with_log_reason("connect 10.0.0.1:80: connection refused");
        let body = p.body_json(Some("abc"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], 502);
        assert_eq!(v["title"], "Bad Gateway");
        assert_eq!(v["request_id"], "abc");
        assert!(!body.contains("10.0.0.1"));
    }
}
