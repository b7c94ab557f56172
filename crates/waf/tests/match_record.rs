//! A match record's tags, `ver` and file are shared per rule (`rule::Meta::shared_log`), built at the rule's
//! first match: every record must still hold its own rule's, in every transaction, whichever rule matched
//! first, and its `msg` (expanded into a buffer sized by `Macro::size_hint`) must be the whole expansion.

mod common;

use common::info;
use portcullis_waf::Engine;
use std::sync::Arc;

/// (id, tags, ver, file) of every match of a GET of `uri`.
type Record = (u32, Vec<String>, Option<String>, String, String);

fn records(engine: &Arc<Engine>, uri: &str) -> Vec<Record> {
    let mut tx = engine.transaction(info());
    tx.request_line("GET", uri, "HTTP/1.1");
    tx.request_header(b"Host", b"localhost");
    if tx.process_request_headers().is_none() {
        tx.process_request_body();
    }
    tx.process_logging();
    tx.matches()
        .iter()
        .map(|m| (m.id, m.tags.to_vec(), m.ver.as_deref().map(str::to_owned), m.file.to_string(), m.msg.clone()))
        .collect()
}

/// A scratch directory, removed at the end.
struct Dir(std::path::PathBuf);
impl Dir {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn each_record_holds_its_own_rules_tags_ver_and_file() {
    let path = std::env::temp_dir().join(format!("portcullis-match-record-{}", std::process::id()));
    std::fs::create_dir_all(&path).unwrap();
    let dir = Dir(path);
    std::fs::write(
        dir.path().join("b.conf"),
        "SecRule ARGS:b \"@streq 1\" \"id:2,phase:1,pass,log,tag:'b-one',tag:'b-two',ver:'B/2'\"\n\
         SecAction \"id:3,phase:5,pass,log,msg:'report %{tx.s1}-%{tx.s2}-%{tx.s3}-%{tx.s4}-%{tx.s5}-%{tx.s6}-%{tx.s7}-%{tx.s8}-%{tx.s9} %{tx.long} end'\"\n",
    )
    .unwrap();
    let main = format!(
        "SecRuleEngine On\n\
         SecAction \"id:10,phase:1,pass,nolog,setvar:tx.s1=11,setvar:tx.s2=2222,setvar:tx.s5=55555,setvar:tx.s9=9,setvar:'tx.long=0123456789012345678901234567890123456789'\"\n\
         SecRule ARGS:a \"@streq 1\" \"id:1,phase:1,pass,log,tag:'a-tag'\"\n\
         Include {}\n",
        dir.path().join("b.conf").display()
    );
    let main_file = dir.path().join("main.conf");
    std::fs::write(&main_file, &main).unwrap();
    let engine = Arc::new(Engine::from_files(std::slice::from_ref(&main_file)).unwrap());
    let a = |v: Vec<&str>| v.into_iter().map(String::from).collect::<Vec<_>>();
    let msg3 = "report 11-2222---55555----9 0123456789012345678901234567890123456789 end".to_string();
    let rec1 = (1, a(vec!["a-tag"]), None, main_file.display().to_string(), String::new());
    let rec2 = (
        2,
        a(vec!["b-one", "b-two"]),
        Some("B/2".into()),
        dir.path().join("b.conf").display().to_string(),
        String::new(),
    );
    let rec3 = (3, vec![], None, dir.path().join("b.conf").display().to_string(), msg3);
    // rule 2 matches first in one engine's life, rule 1 first in the other's: the records are the rules' own
    for order in [["/?b=1", "/?a=1&b=1"], ["/?a=1", "/?a=1&b=1"]] {
        let engine = Arc::new(Engine::from_files(std::slice::from_ref(&main_file)).unwrap());
        let first = records(&engine, order[0]);
        let both = records(&engine, order[1]);
        assert_eq!(both, vec![rec1.clone(), rec2.clone(), rec3.clone()], "{order:?}");
        assert!(first.iter().all(|r| [&rec1, &rec2, &rec3].contains(&r)), "{first:?}");
        assert_eq!(records(&engine, "/?x=1"), vec![rec3.clone()]);
    }
    assert_eq!(records(&engine, "/?a=1&b=1").len(), 3);
}
