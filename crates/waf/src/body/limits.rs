//! Limits and compatibility switches shared by every body processor.

/// Which engine's conventions to reproduce where ModSecurity v3 and Coraza disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compat {
    /// Coraza v3: JSON array items are `json.a.0`, and `json.a` holds the array's length; an empty JSON key
    /// adds nothing to the path (`json.`); `MULTIPART_STRICT_ERROR` is raised by parse errors only (LF-only
    /// lines, a preamble or an epilogue are legal, as Go's `mime/multipart` reads them) and transport
    /// padding (spaces/tabs) after a boundary is accepted.
    #[default]
    Coraza,
    /// ModSecurity v3: JSON array items are `json.a.array_0`, no length entry, an empty key is named
    /// `empty-key`; `MULTIPART_STRICT_ERROR` is the OR of every multipart flag (LF lines included) and a
    /// boundary line must end right after the boundary. `MULTIPART_UNMATCHED_BOUNDARY` reproduces v3's
    /// value `2` once a second boundary matched.
    ModSecurity,
}

/// Bounds that keep parsing linear and memory bounded; exceeding one sets [`ParsedBody::error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyLimits {
    /// Most arguments kept (`SecArgumentsLimit`); more set an error instead of being silently dropped.
    pub max_args: usize,
    /// Deepest JSON nesting accepted (`SecRequestBodyJsonDepthLimit`).
    pub max_json_depth: usize,
    /// Most multipart file parts recorded (`SecUploadFileLimit`); more set `file_limit_exceeded`.
    pub max_files: usize,
    /// Longest multipart part header line, folded continuation included (ModSecurity's 4 KiB buffer).
    pub max_part_header_bytes: usize,
    /// Most XML nodes (elements, texts, attributes' owners...) built before giving up.
    pub max_xml_nodes: u32,
    /// Conventions to follow where ModSecurity and Coraza differ.
    pub compat: Compat,
}

impl Default for BodyLimits {
    /// ModSecurity/Coraza defaults: 1000 arguments, JSON depth 1024 (coraza.conf-recommended), 100 files,
    /// 4096-byte part header lines.
    fn default() -> Self {
        Self {
            max_args: 1000,
            max_json_depth: 1024,
            max_files: 100,
            max_part_header_bytes: 4096,
            max_xml_nodes: 100_000,
            compat: Compat::default(),
        }
    }
}
