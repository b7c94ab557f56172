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

/// Lowercases a word into `buf`; None when it is too long to be any keyword. Non-ASCII bytes stay as they
/// are and match nothing.
fn lower<'a>(word: &[u8], buf: &'a mut [u8; 32]) -> Option<&'a [u8]> {
    if word.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..word.len()])
}

pub fn keyword(word: &[u8]) -> Option<Kw> {
    let mut buf = [0u8; 32];
    let w = lower(word, &mut buf)?;
    Some(match w {
        b"or" => Kw::Or,
        b"and" => Kw::And,
        b"xor" => Kw::Xor,
        b"not" => Kw::Not,
        b"union" => Kw::Union,
        b"select" => Kw::Select,
        b"all" => Kw::All,
        b"distinct" | b"distinctrow" => Kw::Distinct,
        b"from" => Kw::From,
        b"where" => Kw::Where,
        b"order" => Kw::Order,
        b"group" => Kw::Group,
        b"by" => Kw::By,
        b"having" => Kw::Having,
        b"limit" | b"offset" => Kw::Limit,
        b"into" => Kw::Into,
        b"outfile" | b"dumpfile" => Kw::Outfile,
        b"procedure" => Kw::Procedure,
        b"like" | b"ilike" | b"rlike" => Kw::Like,
        b"is" => Kw::Is,
        b"in" => Kw::In,
        b"between" => Kw::Between,
        b"regexp" | b"similar" => Kw::Regexp,
        b"sounds" => Kw::Sounds,
        b"collate" => Kw::Collate,
        b"null" => Kw::Null,
        b"true" => Kw::True,
        b"false" => Kw::False,
        b"waitfor" => Kw::Waitfor,
        b"delay" => Kw::Delay,
        b"time" => Kw::Time,
        b"case" => Kw::Case,
        b"when" => Kw::When,
        b"exists" => Kw::Exists,
        b"set" => Kw::Set,
        b"drop" => Kw::Verb(Verb::Drop),
        b"create" => Kw::Verb(Verb::Create),
        b"alter" => Kw::Verb(Verb::Alter),
        b"truncate" => Kw::Verb(Verb::Truncate),
        b"insert" | b"replace" => Kw::Verb(Verb::Insert),
        b"update" => Kw::Verb(Verb::Update),
        b"delete" => Kw::Verb(Verb::Delete),
        b"exec" | b"execute" => Kw::Verb(Verb::Exec),
        b"shutdown" => Kw::Verb(Verb::Shutdown),
        b"declare" => Kw::Verb(Verb::Declare),
        b"grant" | b"revoke" => Kw::Verb(Verb::Grant),
        b"call" => Kw::Verb(Verb::Call),
        b"copy" => Kw::Verb(Verb::Copy),
        b"load" => Kw::Verb(Verb::Load),
        b"rename" => Kw::Verb(Verb::Rename),
        b"backup" | b"restore" => Kw::Verb(Verb::Backup),
        b"table" | b"tables" | b"database" | b"schema" | b"view" | b"user" | b"login" | b"role" | b"index"
        | b"function" | b"trigger" | b"column" | b"temporary" => Kw::Object,
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
        b"sleep" | b"benchmark" | b"pg_sleep" | b"pg_sleep_for" | b"receive_message" | b"randomblob" | b"delay" => {
            FnEffect::Time
        }
        b"extractvalue"
        | b"updatexml"
        | b"xmltype"
        | b"exp"
        | b"geometrycollection"
        | b"multipoint"
        | b"polygon"
        | b"multipolygon"
        | b"linestring"
        | b"multilinestring"
        | b"gtid_subset"
        | b"gtid_subtract"
        | b"name_const"
        | b"floor"
        | b"rand"
        | b"json_keys"
        | b"getxml"
        | b"ctxsys"
        | b"ordsys"
        | b"drithsx" => FnEffect::Error,
        b"load_file" | b"xp_cmdshell" | b"xp_regread" | b"xp_dirtree" | b"xp_fileexist" | b"sp_executesql"
        | b"sp_oacreate" | b"sp_configure" | b"openrowset" | b"opendatasource" | b"openquery" | b"pg_read_file"
        | b"pg_ls_dir" | b"lo_import" | b"lo_export" | b"sys_eval" | b"sys_exec" | b"request" | b"get_host_name"
        | b"get_host_address" | b"dblink" | b"dblink_exec" | b"load_extension" | b"utl_http" | b"httpuritype"
        | b"java_exec" => FnEffect::System,
        b"char" | b"chr" | b"nchar" | b"concat" | b"concat_ws" | b"group_concat" | b"string_agg" | b"listagg"
        | b"ascii" | b"ord" | b"hex" | b"unhex" | b"substring" | b"substr" | b"mid" | b"left" | b"right"
        | b"char_length" | b"length" | b"len" | b"bin" | b"conv" | b"elt" | b"make_set" | b"lpad" | b"rpad"
        | b"reverse" | b"unicode" | b"to_char" | b"from_base64" | b"to_base64" | b"md5" | b"sha1" | b"count"
        | b"convert" | b"cast" | b"quote" | b"instr" | b"locate" | b"position" | b"strcmp" | b"regexp_substr"
        | b"xmlagg" | b"dbms_xmlgen" => FnEffect::Obfuscation,
        b"version" | b"database" | b"user" | b"current_user" | b"system_user" | b"session_user" | b"schema"
        | b"db_name" | b"user_name" | b"host_name" | b"suser_name" | b"suser_sname" | b"current_database"
        | b"current_schema" | b"connection_id" | b"last_insert_id" | b"uuid" | b"pg_backend_pid"
        | b"sqlite_version" | b"banner" => FnEffect::Info,
        b"if" | b"iif" | b"ifnull" | b"nullif" | b"coalesce" | b"decode" | b"isnull" => FnEffect::Conditional,
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
