//! A minimal writer for MaxMind DB files holding countries: the binary search tree (24-bit records, IPv6 tree
//! with IPv4 under `::/96`), the data section and the metadata, as the MaxMind DB format spec (v2.0) lays them
//! out. Used to generate test databases (and small custom country maps) instead of shipping binary blobs.
//!
//! Records written: `{"country": {"iso_code": "XX"}}`, the shape GeoLite2-Country uses.

use std::collections::HashMap;

use ipnet::IpNet;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Rec {
    Empty,
    Node(u32),
    Data(u32),
}

/// Builds a country `.mmdb` in memory.
///
/// ```
/// let mut w = portcullis_ipguard::mmdb_writer::CountryDbWriter::new();
/// w.insert("203.0.113.0/24".parse().unwrap(), "FR");
/// let bytes = w.build();
/// assert!(bytes.len() > 100);
/// ```
pub struct CountryDbWriter {
    nodes: Vec<[Rec; 2]>,
    data: Vec<u8>,
    offsets: HashMap<String, u32>,
}

impl Default for CountryDbWriter {
    fn default() -> Self {
        Self::new()
    }
}

// Data-section type numbers from the spec.
const T_STRING: u8 = 2;
const T_UINT16: u8 = 5;
const T_UINT32: u8 = 6;
const T_MAP: u8 = 7;
const T_UINT64: u8 = 9;
const T_ARRAY: u8 = 11;

fn control(out: &mut Vec<u8>, ty: u8, size: usize) {
    let (first, extra): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65536 {
        let s = size - 285;
        (30, vec![(s >> 8) as u8, s as u8])
    } else {
        let s = size - 65821;
        (31, vec![(s >> 16) as u8, (s >> 8) as u8, s as u8])
    };
    if ty <= 7 {
        out.push((ty << 5) | first);
    } else {
        // Extended type: type bits 0, the type minus 7 in the next byte.
        out.push(first);
        out.push(ty - 7);
    }
    out.extend(extra);
}

fn string(out: &mut Vec<u8>, s: &str) {
    control(out, T_STRING, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn uint(out: &mut Vec<u8>, ty: u8, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, ty, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

impl CountryDbWriter {
    pub fn new() -> Self {
        CountryDbWriter { nodes: vec![[Rec::Empty; 2]], data: Vec::new(), offsets: HashMap::new() }
    }

    fn record_for(&mut self, iso: &str) -> u32 {
        let iso = iso.to_ascii_uppercase();
        if let Some(o) = self.offsets.get(&iso) {
            return *o;
        }
        let off = self.data.len() as u32;
        let d = &mut self.data;
        control(d, T_MAP, 1);
        string(d, "country");
        control(d, T_MAP, 1);
        string(d, "iso_code");
        string(d, &iso);
        self.offsets.insert(iso, off);
        off
    }

    /// Maps `net` to country `iso`. A more specific network inserted later wins inside a broader one.
    pub fn insert(&mut self, net: IpNet, iso: &str) {
        let data = self.record_for(iso);
        let (bits, len): (u128, u8) = match net {
            IpNet::V4(n) => (u128::from(u32::from(n.network())), n.prefix_len() + 96),
            IpNet::V6(n) => (u128::from(n.network()), n.prefix_len()),
        };
        if len == 0 {
            return;
        }
        let mut node = 0usize;
        for depth in 0..len {
            let bit = ((bits >> (127 - depth)) & 1) as usize;
            if depth == len - 1 {
                self.nodes[node][bit] = Rec::Data(data);
                break;
            }
            node = match self.nodes[node][bit] {
                Rec::Node(n) => n as usize,
                other => {
                    // Split an empty or broader record: both halves keep what it held.
                    let n = self.nodes.len();
                    self.nodes.push([other, other]);
                    self.nodes[node][bit] = Rec::Node(n as u32);
                    n
                }
            };
        }
    }

    /// The complete database file.
    pub fn build(&self) -> Vec<u8> {
        let count = self.nodes.len() as u32;
        let value = |r: Rec| match r {
            Rec::Node(n) => n,
            Rec::Empty => count,
            Rec::Data(off) => count + 16 + off,
        };
        let mut out = Vec::with_capacity(self.nodes.len() * 6 + self.data.len() + 256);
        for [l, r] in &self.nodes {
            out.extend_from_slice(&value(*l).to_be_bytes()[1..]);
            out.extend_from_slice(&value(*r).to_be_bytes()[1..]);
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let m = &mut out;
        control(m, T_MAP, 9);
        string(m, "binary_format_major_version");
        uint(m, T_UINT16, 2);
        string(m, "binary_format_minor_version");
        uint(m, T_UINT16, 0);
        string(m, "build_epoch");
        uint(m, T_UINT64, 1_700_000_000);
        string(m, "database_type");
        string(m, "Portcullis-Country");
        string(m, "description");
        control(m, T_MAP, 1);
        string(m, "en");
        string(m, "Generated by portcullis-ipguard");
        string(m, "ip_version");
        uint(m, T_UINT16, 6);
        string(m, "languages");
        control(m, T_ARRAY, 1);
        string(m, "en");
        string(m, "node_count");
        uint(m, T_UINT32, u64::from(count));
        string(m, "record_size");
        uint(m, T_UINT16, 24);
        out
    }
}
