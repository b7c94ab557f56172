//! `base64IfEncoded` (Portcullis extension): the decoded bytes when the value *is* base64 of text
//! (standard or URL-safe alphabet, plausible length and padding, decodes to mostly printable text — see
//! `portcullis_detect::decode::base64_payload`), otherwise the input unchanged. Unlike `base64Decode`, a
//! plain word is never turned into noise, so rules can chain it in front of any detector.

use std::borrow::Cow;

pub(crate) fn base64_if_encoded(input: &[u8]) -> Cow<'_, [u8]> {
    match portcullis_detect::decode::base64_payload(input) {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(input),
    }
}
