use crate::Problem;

/// What a phase decided. Data, not control flow: the proxy acts on it in one place.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Go on to the next protection / phase.
    Continue,
    /// Stop here and answer the client with this problem (status, public title/detail, extra headers).
    Respond(Box<Problem>),
    /// Stop here and close the connection without an answer (e.g. a `drop` rule).
    Close,
}

impl Verdict {
    /// A refusal answered with `problem`.
    pub fn respond(problem: Problem) -> Self {
        Verdict::Respond(Box::new(problem))
    }

    pub fn is_continue(&self) -> bool {
        matches!(self, Verdict::Continue)
    }
}
