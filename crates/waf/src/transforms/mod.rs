//! SecLang transformations (`t:` actions). Each one is a pure function in its own file, registered in one
//! table keyed by lowercase name.
//!
//! Contract (the engine relies on it):
//! - `lookup(name)` finds a transformation by its SecLang name, case-insensitively (`"urlDecodeUni"`,
//!   `"lowercase"`...); `none` is handled by the engine (it resets the chain), not here.
//! - `Transform::apply` returns `Cow::Borrowed(input)` when the input is unchanged, so the benign path does
//!   not allocate.
