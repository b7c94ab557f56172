//! Step-up authentication (RFC 9470): a route may demand an authentication context class (`acr`) or methods
//! (`amr`) that a plain login does not carry; a token without them is answered with a challenge naming them.

use portcullis_config::StepUpSection;

use crate::{JwtError, VerifiedToken};

/// What a route demands of how the user authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepUpPolicy {
    /// The token's `acr` must be one of these (empty: any).
    pub acr_values: Vec<String>,
    /// The token's `amr` must contain one of these (empty: any).
    pub amr_any: Vec<String>,
}

impl StepUpPolicy {
    pub fn from_section(s: &StepUpSection) -> StepUpPolicy {
        StepUpPolicy { acr_values: s.acr_values.clone(), amr_any: s.amr.clone() }
    }

    /// `Ok` when the token satisfies the policy; otherwise the error that renders as the RFC 9470 challenge.
    pub fn check(&self, token: &VerifiedToken) -> Result<(), JwtError> {
        let acr_ok =
            self.acr_values.is_empty() || token.acr.as_ref().is_some_and(|a| self.acr_values.iter().any(|v| v == a));
        let amr_ok = self.amr_any.is_empty() || token.amr.iter().any(|m| self.amr_any.contains(m));
        if acr_ok && amr_ok {
            Ok(())
        } else {
            Err(JwtError::StepUpRequired { acr_values: self.acr_values.clone(), amr: self.amr_any.clone() })
        }
    }
}
