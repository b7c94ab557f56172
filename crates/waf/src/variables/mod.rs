//! SecLang variables: one registry table keyed by lowercase name, and target specs (`ARGS:foo`,
//! `!ARGS:/^x/`, `&TX:score`, `XML:/*`) as parsed from a rule. The values themselves are read by the
//! transaction (`crate::transaction::collect`), which keeps request data in one arena and hands out spans.

mod key_regex;

use crate::regex_util::RxError;
pub use key_regex::KeyRegex;

/// Every variable the engine knows. Collections hold zero or more `(key, value)` pairs; scalars always
/// yield exactly one value (empty when unset), as in ModSecurity v3 / Coraza.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Var {
    Args,
    ArgsGet,
    ArgsPost,
    ArgsNames,
    ArgsGetNames,
    ArgsPostNames,
    ArgsCombinedSize,
    RequestHeaders,
    RequestHeadersNames,
    RequestCookies,
    RequestCookiesNames,
    RequestUri,
    RequestUriRaw,
    RequestFilename,
    RequestBasename,
    RequestLine,
    RequestMethod,
    RequestProtocol,
    QueryString,
    RequestBody,
    RequestBodyLength,
    ReqbodyError,
    ReqbodyErrorMsg,
    ReqbodyProcessor,
    ReqbodyProcessorError,
    Files,
    FilesNames,
    FilesSizes,
    FilesCombinedSize,
    FilesTmpNames,
    FilesTmpContent,
    MultipartFilename,
    MultipartName,
    MultipartPartHeaders,
    MultipartStrictError,
    MultipartUnmatchedBoundary,
    MultipartBoundaryQuoted,
    MultipartBoundaryWhitespace,
    MultipartDataBefore,
    MultipartDataAfter,
    MultipartHeaderFolding,
    MultipartLfLine,
    MultipartMissingSemicolon,
    MultipartInvalidQuoting,
    MultipartInvalidPart,
    MultipartInvalidHeaderFolding,
    MultipartFileLimitExceeded,
    MultipartCrlfLfLines,
    Xml,
    Tx,
    Ip,
    Global,
    Session,
    User,
    Resource,
    MatchedVar,
    MatchedVars,
    MatchedVarName,
    MatchedVarsNames,
    ResponseStatus,
    ResponseProtocol,
    ResponseHeaders,
    ResponseHeadersNames,
    ResponseBody,
    ResponseContentType,
    ResponseContentLength,
    RemoteAddr,
    RemotePort,
    RemoteHost,
    ServerAddr,
    ServerPort,
    ServerName,
    UniqueId,
    Duration,
    Time,
    TimeDay,
    TimeEpoch,
    TimeHour,
    TimeMin,
    TimeMon,
    TimeSec,
    TimeWday,
    TimeYear,
    Env,
    HighestSeverity,
    StatusLine,
    FullRequest,
    FullRequestLength,
    InboundDataError,
    OutboundDataError,
    UrlencodedError,
    AuthType,
    Rule,
    Geo,
    Webserver,
}

/// Registry row: SecLang name (as printed in `MATCHED_VAR_NAME`), the variable, whether it is a collection.
pub struct VarSpec {
    pub name: &'static str,
    pub var: Var,
    pub collection: bool,
}

macro_rules! vars {
    ($( $name:literal => $var:ident, $coll:literal; )*) => {
        /// The variable table, keyed case-insensitively by `name`.
        pub static VARIABLES: &[VarSpec] = &[ $( VarSpec { name: $name, var: Var::$var, collection: $coll }, )* ];
    };
}

vars! {
    "ARGS" => Args, true;
    "ARGS_GET" => ArgsGet, true;
    "ARGS_POST" => ArgsPost, true;
    "ARGS_NAMES" => ArgsNames, true;
    "ARGS_GET_NAMES" => ArgsGetNames, true;
    "ARGS_POST_NAMES" => ArgsPostNames, true;
    "ARGS_COMBINED_SIZE" => ArgsCombinedSize, false;
    "REQUEST_HEADERS" => RequestHeaders, true;
    "REQUEST_HEADERS_NAMES" => RequestHeadersNames, true;
    "REQUEST_COOKIES" => RequestCookies, true;
    "REQUEST_COOKIES_NAMES" => RequestCookiesNames, true;
    "REQUEST_URI" => RequestUri, false;
    "REQUEST_URI_RAW" => RequestUriRaw, false;
    "REQUEST_FILENAME" => RequestFilename, false;
    "REQUEST_BASENAME" => RequestBasename, false;
    "REQUEST_LINE" => RequestLine, false;
    "REQUEST_METHOD" => RequestMethod, false;
    "REQUEST_PROTOCOL" => RequestProtocol, false;
    "QUERY_STRING" => QueryString, false;
    "REQUEST_BODY" => RequestBody, false;
    "REQUEST_BODY_LENGTH" => RequestBodyLength, false;
    "REQBODY_ERROR" => ReqbodyError, false;
    "REQBODY_ERROR_MSG" => ReqbodyErrorMsg, false;
    "REQBODY_PROCESSOR" => ReqbodyProcessor, false;
    "REQBODY_PROCESSOR_ERROR" => ReqbodyProcessorError, false;
    "FILES" => Files, true;
    "FILES_NAMES" => FilesNames, true;
    "FILES_SIZES" => FilesSizes, true;
    "FILES_COMBINED_SIZE" => FilesCombinedSize, false;
    "FILES_TMPNAMES" => FilesTmpNames, true;
    "FILES_TMP_CONTENT" => FilesTmpContent, true;
    "MULTIPART_FILENAME" => MultipartFilename, false;
    "MULTIPART_NAME" => MultipartName, false;
    "MULTIPART_PART_HEADERS" => MultipartPartHeaders, true;
    "MULTIPART_STRICT_ERROR" => MultipartStrictError, false;
    "MULTIPART_UNMATCHED_BOUNDARY" => MultipartUnmatchedBoundary, false;
    "MULTIPART_BOUNDARY_QUOTED" => MultipartBoundaryQuoted, false;
    "MULTIPART_BOUNDARY_WHITESPACE" => MultipartBoundaryWhitespace, false;
    "MULTIPART_DATA_BEFORE" => MultipartDataBefore, false;
    "MULTIPART_DATA_AFTER" => MultipartDataAfter, false;
    "MULTIPART_HEADER_FOLDING" => MultipartHeaderFolding, false;
    "MULTIPART_LF_LINE" => MultipartLfLine, false;
    "MULTIPART_MISSING_SEMICOLON" => MultipartMissingSemicolon, false;
    "MULTIPART_INVALID_QUOTING" => MultipartInvalidQuoting, false;
    "MULTIPART_INVALID_PART" => MultipartInvalidPart, false;
    "MULTIPART_INVALID_HEADER_FOLDING" => MultipartInvalidHeaderFolding, false;
    "MULTIPART_FILE_LIMIT_EXCEEDED" => MultipartFileLimitExceeded, false;
    "MULTIPART_CRLF_LF_LINES" => MultipartCrlfLfLines, false;
    "XML" => Xml, true;
    "TX" => Tx, true;
    "IP" => Ip, true;
    "GLOBAL" => Global, true;
    "SESSION" => Session, true;
    "USER" => User, true;
    "RESOURCE" => Resource, true;
    "MATCHED_VAR" => MatchedVar, false;
    "MATCHED_VARS" => MatchedVars, true;
    "MATCHED_VAR_NAME" => MatchedVarName, false;
    "MATCHED_VARS_NAMES" => MatchedVarsNames, true;
    "RESPONSE_STATUS" => ResponseStatus, false;
    "RESPONSE_PROTOCOL" => ResponseProtocol, false;
    "RESPONSE_HEADERS" => ResponseHeaders, true;
    "RESPONSE_HEADERS_NAMES" => ResponseHeadersNames, true;
    "RESPONSE_BODY" => ResponseBody, false;
    "RESPONSE_CONTENT_TYPE" => ResponseContentType, false;
    "RESPONSE_CONTENT_LENGTH" => ResponseContentLength, false;
    "REMOTE_ADDR" => RemoteAddr, false;
    "REMOTE_PORT" => RemotePort, false;
    "REMOTE_HOST" => RemoteHost, false;
    "SERVER_ADDR" => ServerAddr, false;
    "SERVER_PORT" => ServerPort, false;
    "SERVER_NAME" => ServerName, false;
    "UNIQUE_ID" => UniqueId, false;
    "DURATION" => Duration, false;
    "TIME" => Time, false;
    "TIME_DAY" => TimeDay, false;
    "TIME_EPOCH" => TimeEpoch, false;
    "TIME_HOUR" => TimeHour, false;
    "TIME_MIN" => TimeMin, false;
    "TIME_MON" => TimeMon, false;
    "TIME_SEC" => TimeSec, false;
    "TIME_WDAY" => TimeWday, false;
    "TIME_YEAR" => TimeYear, false;
    "ENV" => Env, true;
    "HIGHEST_SEVERITY" => HighestSeverity, false;
    "STATUS_LINE" => StatusLine, false;
    "FULL_REQUEST" => FullRequest, false;
    "FULL_REQUEST_LENGTH" => FullRequestLength, false;
    "INBOUND_DATA_ERROR" => InboundDataError, false;
    "OUTBOUND_DATA_ERROR" => OutboundDataError, false;
    "URLENCODED_ERROR" => UrlencodedError, false;
    "AUTH_TYPE" => AuthType, false;
    "RULE" => Rule, true;
    "GEO" => Geo, true;
    "WEBSERVER_ERROR_LOG" => Webserver, true;
}

/// Finds a variable by name, case-insensitively.
pub fn lookup(name: &str) -> Option<&'static VarSpec> {
    VARIABLES.iter().find(|v| v.name.eq_ignore_ascii_case(name))
}

/// Printable name of a variable.
pub fn name_of(var: Var) -> &'static str {
    VARIABLES.iter().find(|v| v.var == var).map(|v| v.name).unwrap_or("?")
}

/// Which members of a collection a target selects.
#[derive(Debug, Clone)]
pub enum Selector {
    All,
    /// Exact key, compared case-insensitively (stored lowercase).
    Key(String),
    /// `:/regex/` on the key.
    Regex(KeyRegex),
    /// `XML:/xpath` — kept verbatim; the XML view treats `/*` and `//@*` as "all text" / "all attributes".
    XPath(String),
}

impl Selector {
    /// Does the collection key `key` match this selector?
    #[inline]
    pub fn matches_key(&self, key: &[u8]) -> bool {
        match self {
            Selector::All | Selector::XPath(_) => true,
            Selector::Key(k) => k.as_bytes().eq_ignore_ascii_case(key),
            Selector::Regex(r) => r.is_match(key),
        }
    }
    fn same_as(&self, other: &Selector) -> bool {
        match (self, other) {
            (Selector::All, Selector::All) => true,
            (Selector::Key(a), Selector::Key(b)) => a == b,
            (Selector::Regex(a), Selector::Regex(b)) => a.as_str() == b.as_str(),
            (Selector::XPath(a), Selector::XPath(b)) => a == b,
            _ => false,
        }
    }
}

/// One element of a rule's variable list.
#[derive(Debug, Clone)]
pub struct Target {
    pub var: Var,
    pub selector: Selector,
    /// `&VAR`: the number of selected values instead of the values.
    pub count: bool,
    /// `!VAR:key`: removes matching members from the other targets of the same variable.
    pub exclude: bool,
}

impl Target {
    /// True when `self` names the same variable and selector as `other` (used by update/remove-target).
    pub fn same_as(&self, other: &Target) -> bool {
        self.var == other.var && self.count == other.count && self.selector.same_as(&other.selector)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("unknown variable {0:?}")]
    Unknown(String),
    #[error("empty variable in target list {0:?}")]
    Empty(String),
    #[error("bad key regex in {target:?}: {err}")]
    Regex { target: String, err: RxError },
    #[error("variable {0} is not a collection and takes no key")]
    NotCollection(String),
}

/// Parses a target list like `REQUEST_COOKIES|!REQUEST_COOKIES:/__utm/|ARGS:foo|XML:/*`.
pub fn parse_targets(s: &str) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i <= b.len() {
        // one element
        let start = i;
        let mut exclude = false;
        let mut count = false;
        while i < b.len() && (b[i] == b'!' || b[i] == b'&') {
            if b[i] == b'!' {
                exclude = true
            } else {
                count = true
            }
            i += 1;
        }
        let name_start = i;
        while i < b.len() && b[i] != b':' && b[i] != b'|' {
            i += 1;
        }
        let name = s[name_start..i].trim();
        if name.is_empty() {
            return Err(TargetError::Empty(s.to_string()));
        }
        let spec = lookup(name).ok_or_else(|| TargetError::Unknown(name.to_string()))?;
        let mut selector = Selector::All;
        if i < b.len() && b[i] == b':' {
            i += 1;
            let key_start = i;
            if spec.var == Var::Xml {
                while i < b.len() && b[i] != b'|' {
                    i += 1;
                }
                selector = Selector::XPath(s[key_start..i].to_string());
            } else if i < b.len() && b[i] == b'/' {
                // regex: up to a '/' that is not escaped and is followed by '|' or the end
                let mut j = i + 1;
                let mut end = None;
                while j < b.len() {
                    if b[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if b[j] == b'/' && (j + 1 == b.len() || b[j + 1] == b'|') {
                        end = Some(j);
                        break;
                    }
                    j += 1;
                }
                let Some(end) = end else {
                    return Err(TargetError::Regex { target: s[start..].to_string(), err: RxError::Unterminated });
                };
                let pat = &s[i + 1..end];
                let re = KeyRegex::new(pat)
                    .map_err(|err| TargetError::Regex { target: s[start..end + 1].to_string(), err })?;
                selector = Selector::Regex(re);
                i = end + 1;
            } else if i < b.len() && b[i] == b'\'' {
                let close = s[i + 1..].find('\'').map(|p| p + i + 1).unwrap_or(b.len());
                selector = Selector::Key(s[i + 1..close.min(b.len())].to_ascii_lowercase());
                i = (close + 1).min(b.len());
                while i < b.len() && b[i] != b'|' {
                    i += 1;
                }
            } else {
                while i < b.len() && b[i] != b'|' {
                    i += 1;
                }
                selector = Selector::Key(s[key_start..i].trim().to_ascii_lowercase());
            }
            if !spec.collection {
                return Err(TargetError::NotCollection(spec.name.to_string()));
            }
        }
        out.push(Target { var: spec.var, selector, count, exclude });
        if i >= b.len() {
            break;
        }
        // skip '|'
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_crs_style_lists() {
        let t = parse_targets("REQUEST_COOKIES|!REQUEST_COOKIES:/^(?:a|b)$/|ARGS_NAMES|ARGS|XML:/*|XML://@*").unwrap();
        assert_eq!(t.len(), 6);
        assert!(t[1].exclude);
        assert!(
            matches!(&t[1].selector, Selector::Regex(r) if r.is_match(b"a") && r.is_match(b"A") && !r.is_match(b"c"))
        );
        assert!(matches!(&t[4].selector, Selector::XPath(x) if x == "/*"));
        assert!(matches!(&t[5].selector, Selector::XPath(x) if x == "//@*"));
        let t = parse_targets("&TX:Foo|REQUEST_HEADERS:User-Agent").unwrap();
        assert!(t[0].count);
        assert!(matches!(&t[0].selector, Selector::Key(k) if k == "foo"));
        assert!(matches!(&t[1].selector, Selector::Key(k) if k == "user-agent"));
    }

    #[test]
    fn rejects_unknown_and_keyed_scalars() {
        assert!(matches!(parse_targets("NOPE"), Err(TargetError::Unknown(_))));
        assert!(matches!(parse_targets("REQUEST_URI:x"), Err(TargetError::NotCollection(_))));
        assert!(parse_targets("ARGS|").is_err());
    }
}
