//! (in progress)
pub fn detect(_: &[u8]) -> Option<crate::Finding> {
    None
}
