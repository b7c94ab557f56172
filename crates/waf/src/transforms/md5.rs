//! `md5`: the MD5 digest of the input as 16 raw bytes (chain `t:hexEncode` for text).

use std::borrow::Cow;

use md5::{Digest, Md5};

pub(crate) fn md5(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(Md5::digest(input).to_vec())
}
