//! Why a bearer token was refused, and how that is said to the client: `WWW-Authenticate: Bearer` challenges
//! per RFC 6750 (`invalid_token`, `insufficient_scope`) and RFC 9470 (`insufficient_user_authentication`).
//!
//! Messages never carry the token or any claim value from it (they reach the log).

use http::StatusCode;

/// The realm named in every challenge.
pub const REALM: &str = "portcullis";

/// A refused token (or a missing one). `Display` is the log wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("no bearer token")]
    Missing,
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("key does not accept the token's algorithm")]
    KeyAlgorithmMismatch,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token issued in the future")]
    IssuedInFuture,
    #[error("wrong issuer")]
    WrongIssuer,
    #[error("wrong audience")]
    WrongAudience,
    #[error("missing or malformed claim {0}")]
    Claim(&'static str),
    #[error("signing keys unavailable")]
    KeysUnavailable,
    #[error("missing scope")]
    InsufficientScope { required: Vec<String> },
    #[error("step-up authentication required")]
    StepUpRequired { acr_values: Vec<String>, amr: Vec<String> },
}

impl JwtError {
    /// 403 for a valid token without the scopes a route needs; 401 for everything else.
    pub fn status(&self) -> StatusCode {
        match self {
            JwtError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The public explanation (problem+json `detail` and `error_description`): generic, no token content.
    pub fn public_description(&self) -> &'static str {
        match self {
            JwtError::Missing => "A bearer token is required.",
            JwtError::Expired => "The access token expired.",
            JwtError::InsufficientScope { .. } => "The access token does not grant the required scope.",
            JwtError::StepUpRequired { .. } => "A stronger authentication is required for this resource.",
            JwtError::KeysUnavailable => "The access token cannot be verified right now.",
            _ => "The access token is invalid.",
        }
    }

    /// The `WWW-Authenticate` value for this refusal.
    ///
    /// ```
    /// use portcullis_jwt::JwtError;
    /// let e = JwtError::StepUpRequired { acr_values: vec!["mfa".into()], amr: vec![] };
    /// assert_eq!(
    ///     e.www_authenticate(),
    ///     r#"Bearer realm="portcullis", error="insufficient_user_authentication", error_description="A stronger authentication is required for this resource.", acr_values="mfa""#
    /// );
    /// ```
    pub fn www_authenticate(&self) -> String {
        match self {
            // RFC 6750 §3.1: no error code when the request carried no credentials.
            JwtError::Missing => format!("Bearer realm=\"{REALM}\""),
            JwtError::InsufficientScope { required } => {
                bearer_challenge("insufficient_scope", self.public_description(), &[("scope", required)])
            }
            JwtError::StepUpRequired { acr_values, amr } => step_up_challenge(acr_values, amr),
            _ => bearer_challenge("invalid_token", self.public_description(), &[]),
        }
    }
}

/// The RFC 9470 challenge for a token whose authentication is too weak for the resource.
pub fn step_up_challenge(acr_values: &[String], amr: &[String]) -> String {
    let desc = "A stronger authentication is required for this resource.";
    let mut params: Vec<(&str, &[String])> = Vec::new();
    if !acr_values.is_empty() {
        params.push(("acr_values", acr_values));
    }
    // Not registered by RFC 9470, but harmless to clients and useful to say which methods would do.
    if !amr.is_empty() {
        params.push(("amr_values", amr));
    }
    bearer_challenge("insufficient_user_authentication", desc, &params)
}

/// `Bearer realm="portcullis", error="...", error_description="..."` plus space-joined list parameters.
/// Values come from config or fixed text (validated to be printable without quotes), never from a token.
pub fn bearer_challenge(error: &str, description: &str, params: &[(&str, &[String])]) -> String {
    let mut s = format!("Bearer realm=\"{REALM}\", error=\"{error}\", error_description=\"{description}\"");
    for (name, values) in params {
        let joined: String = values.join(" ").chars().filter(|c| *c != '"' && *c != '\\').collect();
        s.push_str(&format!(", {name}=\"{joined}\""));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(JwtError::Missing.www_authenticate(), "Bearer realm=\"portcullis\"");
        let bad = JwtError::BadSignature.www_authenticate();
        assert!(bad.starts_with("Bearer realm=\"portcullis\", error=\"invalid_token\""), "{bad}");
        let scope = JwtError::InsufficientScope { required: vec!["a:read".into(), "b".into()] };
        assert_eq!(scope.status(), StatusCode::FORBIDDEN);
        assert!(scope.www_authenticate().ends_with("scope=\"a:read b\""));
        let step = JwtError::StepUpRequired { acr_values: vec!["mfa".into()], amr: vec!["otp".into(), "hwk".into()] };
        assert_eq!(step.status(), StatusCode::UNAUTHORIZED);
        let v = step.www_authenticate();
        assert!(v.contains("error=\"insufficient_user_authentication\""), "{v}");
        assert!(v.contains("acr_values=\"mfa\"") && v.contains("amr_values=\"otp hwk\""), "{v}");
        assert!(http::HeaderValue::from_str(&v).is_ok());
    }
}
