//! The SecLang front end: lexing (`lexer`), file loading with `Include` (`loader`), and compilation of
//! directives into the engine's flat per-phase rule arrays (`compile`).

pub mod compile;
pub mod lexer;
pub mod loader;

pub use compile::{compile, RuleSet};
pub use lexer::RawDirective;
