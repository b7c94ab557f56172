//! The SQL words the analysis cares about, and the functions that give an injection its effect (time delays,
//! error-based extraction, file access, obfuscation, information disclosure). Words not listed here are plain
//! identifiers: the analysis reasons about structure, so the lists only need the words that carry meaning.
//!
//! Owns: word classification. Must not touch token positions or decisions.

/// Keywords that change how a token stream is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kw {
    Or,
    And,
    Xor,
    Not,
    Union,
    Select,
    All,
    Distinct,
    From,
    Where,
    Order,
    Group,
    By,
    Having,
    Limit,
    Into,
    Outfile,
    Procedure,
    Like,
    Is,
    In,
    Between,
    Regexp,
    Sounds,
    Collate,
    Null,
    True,
    False,
    Waitfor,
    Delay,
    Time,
    Case,
    When,
    Exists,
    /// A statement verb that can start a stacked query (`; DROP ...`); its grammar is checked in `stacked`.
    Verb(Verb),
    /// An object word (`TABLE`, `DATABASE`...) that follows DROP/CREATE/ALTER/TRUNCATE.
    Object,
    Set,
}

/// Statement verbs for stacked queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Drop,
    Create,
    Alter,
    Truncate,
    Insert,
    Update,
    Delete,
    Exec,
    Shutdown,
    Declare,
    Grant,
    Call,
    Copy,
    Load,
    Rename,
    Backup,
}

/// Lowercases an ASCII word into `buf`; None when it is too long or not ASCII to be any keyword.
fn lower<'a>(word: &[u8], buf: &'a mut [u8; 32]) -> Option<&'a str> {
    if word.len() > buf.len() || !word.is_ascii() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..word.len()]).ok()
}

pub fn keyword(word: &[u8]) -> Option<Kw> {
    let mut buf = [0u8; 32];
    let w = lower(word, &mut buf)?;
    Some(match w {
        "or" => Kw::Or,
        "and" => Kw::And,
        "xor" => Kw::Xor,
        "not" => Kw::Not,
        "union" => Kw::Union,
        "select" => Kw::Select,
        "all" => Kw::All,
        "distinct" | "distinctrow" => Kw::Distinct,
        "from" => Kw::From,
        "where" => Kw::Where,
        "order" => Kw::Order,
        "group" => Kw::Group,
        "by" => Kw::By,
        "having" => Kw::Having,
        "limit" | "offset" => Kw::Limit,
        "into" => Kw::Into,
        "outfile" | "dumpfile" => Kw::Outfile,
        "procedure" => Kw::Procedure,
        "like" | "ilike" | "rlike" => Kw::Like,
        "is" => Kw::Is,
        "in" => Kw::In,
        "between" => Kw::Between,
        "regexp" | "similar" => Kw::Regexp,
        "sounds" => Kw::Sounds,
        "collate" => Kw::Collate,
        "null" => Kw::Null,
        "true" => Kw::True,
        "false" => Kw::False,
        "waitfor" => Kw::Waitfor,
        "delay" => Kw::Delay,
        "time" => Kw::Time,
        "case" => Kw::Case,
        "when" => Kw::When,
        "exists" => Kw::Exists,
        "set" => Kw::Set,
        "drop" => Kw::Verb(Verb::Drop),
        "create" => Kw::Verb(Verb::Create),
        "alter" => Kw::Verb(Verb::Alter),
        "truncate" => Kw::Verb(Verb::Truncate),
        "insert" | "replace" => Kw::Verb(Verb::Insert),
        "update" => Kw::Verb(Verb::Update),
        "delete" => Kw::Verb(Verb::Delete),
        "exec" | "execute" => Kw::Verb(Verb::Exec),
        "shutdown" => Kw::Verb(Verb::Shutdown),
        "declare" => Kw::Verb(Verb::Declare),
        "grant" | "revoke" => Kw::Verb(Verb::Grant),
        "call" => Kw::Verb(Verb::Call),
        "copy" => Kw::Verb(Verb::Copy),
        "load" => Kw::Verb(Verb::Load),
        "rename" => Kw::Verb(Verb::Rename),
        "backup" | "restore" => Kw::Verb(Verb::Backup),
        "table" | "tables" | "database" | "schema" | "view" | "user" | "login" | "role" | "index" | "function"
        | "trigger" | "column" | "temporary" => Kw::Object,
        _ => return None,
    })
}

/// What calling a function does for an attacker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FnEffect {
    /// Delays the response: blind time-based extraction.
    Time,
    /// Raises an error that carries data: error-based extraction.
    Error,
    /// Reads or writes files, runs commands, opens connections.
    System,
    /// Builds strings from codes or pieces: hides keywords (`CHAR(83,69,76)`) or extracts data bit by bit.
    Obfuscation,
    /// Returns server information (`version()`, `user()`, `database()`).
    Info,
    /// Conditionals used for blind extraction (`IF(`, `IIF(`).
    Conditional,
}

/// Classifies a called function by name (the last part of a dotted name, as in `DBMS_PIPE.RECEIVE_MESSAGE`).
pub fn function(name: &[u8]) -> Option<FnEffect> {
    let mut buf = [0u8; 32];
    let w = lower(name, &mut buf)?;
    Some(match w {
        "sleep" | "benchmark" | "pg_sleep" | "pg_sleep_for" | "receive_message" | "randomblob" | "delay" => {
            FnEffect::Time
        }
        "extractvalue" | "updatexml" | "xmltype" | "exp" | "geometrycollection" | "multipoint" | "polygon"
        | "multipolygon" | "linestring" | "multilinestring" | "gtid_subset" | "gtid_subtract" | "name_const"
        | "floor" | "rand" | "json_keys" | "getxml" | "ctxsys" | "ordsys" | "drithsx" => FnEffect::Error,
        "load_file" | "xp_cmdshell" | "xp_regread" | "xp_dirtree" | "xp_fileexist" | "sp_executesql"
        | "sp_oacreate" | "sp_configure" | "openrowset" | "opendatasource" | "openquery" | "pg_read_file"
        | "pg_ls_dir" | "lo_import" | "lo_export" | "sys_eval" | "sys_exec" | "request" | "get_host_name"
        | "get_host_address" | "dblink" | "dblink_exec" | "load_extension" | "utl_http" | "httpuritype"
        | "java_exec" => FnEffect::System,
        "char" | "chr" | "nchar" | "concat" | "concat_ws" | "group_concat" | "string_agg" | "listagg" | "ascii"
        | "ord" | "hex" | "unhex" | "substring" | "substr" | "mid" | "left" | "right" | "char_length" | "length"
        | "len" | "bin" | "conv" | "elt" | "make_set" | "lpad" | "rpad" | "reverse" | "unicode" | "to_char"
        | "from_base64" | "to_base64" | "md5" | "sha1" | "count" | "convert" | "cast" | "quote" | "instr"
        | "locate" | "position" | "strcmp" | "regexp_substr" | "xmlagg" | "dbms_xmlgen" => FnEffect::Obfuscation,
        "version" | "database" | "user" | "current_user" | "system_user" | "session_user" | "schema" | "db_name"
        | "user_name" | "host_name" | "suser_name" | "suser_sname" | "current_database" | "current_schema"
        | "connection_id" | "last_insert_id" | "uuid" | "pg_backend_pid" | "sqlite_version" | "banner" => {
            FnEffect::Info
        }
        "if" | "iif" | "ifnull" | "nullif" | "coalesce" | "decode" | "isnull" => FnEffect::Conditional,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive() {
        assert_eq!(keyword(b"UnIoN"), Some(Kw::Union));
        assert_eq!(keyword(b"books"), None);
        assert_eq!(function(b"SLEEP"), Some(FnEffect::Time));
        assert_eq!(function(b"receive_message"), Some(FnEffect::Time));
        assert_eq!(function(b"a_very_long_identifier_name_over_32_bytes"), None);
    }
}
