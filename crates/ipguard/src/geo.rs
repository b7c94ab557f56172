//! Country lookups in a MaxMind-format database (GeoLite2-Country, GeoIP2-Country, or any `.mmdb` whose records
//! carry `country.iso_code`), through the `maxminddb` crate.

use std::net::IpAddr;
use std::path::Path;

use serde::Deserialize;

/// An opened country database.
pub struct GeoDb {
    reader: maxminddb::Reader<Vec<u8>>,
}

// Only the one field we need is decoded; borrowing the string avoids an allocation per lookup.
#[derive(Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    country: Option<Country<'a>>,
}

#[derive(Deserialize)]
struct Country<'a> {
    iso_code: Option<&'a str>,
}

impl std::fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoDb").field("type", &self.reader.metadata.database_type).finish()
    }
}

impl GeoDb {
    pub fn open(path: &Path) -> Result<GeoDb, String> {
        let reader = maxminddb::Reader::open_readfile(path)
            .map_err(|e| format!("{}: not a usable MaxMind database: {e}", path.display()))?;
        Ok(GeoDb { reader })
    }

    /// The country's ISO 3166-1 alpha-2 code, upper case; `None` when the database has no country for `ip`.
    pub fn country(&self, ip: IpAddr) -> Option<[u8; 2]> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        // An IPv6 address in an IPv4-only database is an error from the reader: treated as unknown.
        let rec: Record = self.reader.lookup(ip).ok()??;
        let code = rec.country?.iso_code?.as_bytes();
        match code {
            [a, b] => Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()]),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmdb_writer::CountryDbWriter;

    #[test]
    fn looks_up_countries_in_a_generated_database() {
        let mut w = CountryDbWriter::new();
        w.insert("203.0.113.0/24".parse().unwrap(), "FR");
        w.insert("198.51.100.0/25".parse().unwrap(), "de");
        w.insert("2001:db8:1::/48".parse().unwrap(), "JP");
        w.insert("10.0.0.0/8".parse().unwrap(), "US");
        w.insert("10.1.0.0/16".parse().unwrap(), "CA");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.mmdb");
        std::fs::write(&path, w.build()).unwrap();
        let db = GeoDb::open(&path).unwrap();
        let c = |s: &str| db.country(s.parse().unwrap()).map(|c| String::from_utf8(c.to_vec()).unwrap());
        assert_eq!(c("203.0.113.77").as_deref(), Some("FR"));
        assert_eq!(c("198.51.100.127").as_deref(), Some("DE"));
        assert_eq!(c("198.51.100.128"), None);
        assert_eq!(c("2001:db8:1:2::5").as_deref(), Some("JP"));
        assert_eq!(c("2001:db8:2::5"), None);
        assert_eq!(c("::ffff:203.0.113.1").as_deref(), Some("FR"));
        assert_eq!(c("10.2.3.4").as_deref(), Some("US"));
        assert_eq!(c("10.1.3.4").as_deref(), Some("CA"));
        assert_eq!(c("8.8.8.8"), None);
    }

    #[test]
    fn a_broken_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.mmdb");
        std::fs::write(&path, b"not a database").unwrap();
        assert!(GeoDb::open(&path).unwrap_err().contains("not a usable MaxMind database"));
    }
}
