//! What the client saw, and whether that is a refusal.
//!
//! A request is **refused** when the gateway answered with a 4xx (its problem+json refusals are 403, but a
//! 400/413/414/431 for a request it would not forward also stops the request reaching the API), or when it
//! dropped the connection without answering (a WAF `drop`). It **passed** on any 1xx–3xx (the echo upstream
//! answers 200 to everything). A 5xx or a timeout is an **error**: neither a block nor a pass, reported
//! separately (an attack with an error is not counted as caught; a benign request with an error is not counted
//! as a false positive, but errors make the CI gate fail).

use portcullis_crs_test::client::Response;
use serde::Serialize;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    /// Reached the upstream (or at least was answered without refusal).
    Passed { status: u16 },
    /// Refused with a 4xx; `reason` is the problem's title/detail when the body is problem+json.
    Refused { status: u16, reason: String },
    /// The connection was closed without a response.
    Dropped { error: String },
    /// 5xx, timeout or another transport failure.
    Error { error: String },
}

impl Outcome {
    /// Judges what the raw client returned.
    pub fn from_response(r: Result<Response, String>) -> Outcome {
        match r {
            Ok(resp) if (400..500).contains(&resp.status) => {
                Outcome::Refused { status: resp.status, reason: problem_reason(&resp) }
            }
            Ok(resp) if resp.status >= 500 => {
                Outcome::Error { error: format!("status {}: {}", resp.status, problem_reason(&resp)) }
            }
            Ok(resp) => Outcome::Passed { status: resp.status },
            Err(e) if is_drop(&e) => Outcome::Dropped { error: e },
            Err(e) => Outcome::Error { error: e },
        }
    }

    pub fn is_refused(&self) -> bool {
        matches!(self, Outcome::Refused { .. } | Outcome::Dropped { .. })
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Outcome::Error { .. })
    }

    /// One line for miss listings.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Passed { status } => format!("passed with {status} (nothing refused it)"),
            Outcome::Refused { status, reason } if reason.is_empty() => format!("refused with {status}"),
            Outcome::Refused { status, reason } => format!("refused with {status}: {reason}"),
            Outcome::Dropped { error } => format!("connection dropped ({error})"),
            Outcome::Error { error } => format!("error: {error}"),
        }
    }
}

/// The client's wording for a connection closed or reset before any response byte.
fn is_drop(e: &str) -> bool {
    e.contains("closed without a response") || e.contains("reset") || e.contains("Connection reset")
}

/// `title: detail` from a problem+json body, or the first bytes of another body.
fn problem_reason(r: &Response) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) {
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_owned();
        let (title, detail) = (field("title"), field("detail"));
        return match (title.is_empty(), detail.is_empty()) {
            (false, false) => format!("{title}: {detail}"),
            (false, true) => title,
            _ => detail,
        };
    }
    let text = String::from_utf8_lossy(&r.body);
    text.chars().take(120).collect::<String>().replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec(), raw: Vec::new() }
    }

    #[test]
    fn judges_statuses_and_drops() {
        let o = Outcome::from_response(Ok(resp(403, r#"{"title":"Forbidden","detail":"blocked by the WAF"}"#)));
        assert_eq!(o, Outcome::Refused { status: 403, reason: "Forbidden: blocked by the WAF".into() });
        assert!(o.is_refused());
        assert!(!Outcome::from_response(Ok(resp(200, "GET /\n"))).is_refused());
        assert!(Outcome::from_response(Ok(resp(400, "bad"))).is_refused());
        assert!(Outcome::from_response(Ok(resp(502, ""))).is_error());
        assert!(Outcome::from_response(Err("connection closed without a response".into())).is_refused());
        let t = Outcome::from_response(Err("timed out waiting for the response".into()));
        assert!(t.is_error() && !t.is_refused());
    }
}
