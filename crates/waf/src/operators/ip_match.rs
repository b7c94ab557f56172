//! `@ipMatch` / `@ipMatchFromFile`: the value is an IPv4/IPv6 address inside one of the listed
//! addresses or CIDR networks.

use super::{read_list_files, BuildCtx, OpCtx, Operator};
use std::net::IpAddr;

#[derive(Debug)]
pub struct IpMatch(Vec<(IpAddr, u8)>);

fn parse_net(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let ip: IpAddr = addr.trim().parse().map_err(|_| format!("bad address {s:?}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.trim().parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(|| format!("bad prefix in {s:?}"))?,
        None => max,
    };
    Ok((ip, bits))
}

fn from_list<'a>(items: impl Iterator<Item = &'a str>) -> Result<Box<dyn Operator>, String> {
    let nets = items.map(str::trim).filter(|s| !s.is_empty()).map(parse_net).collect::<Result<Vec<_>, _>>()?;
    if nets.is_empty() {
        return Err("no addresses".into());
    }
    Ok(Box::new(IpMatch(nets)))
}

pub fn build(arg: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    from_list(arg.split([',', ' ']))
}

pub fn build_from_file(arg: &str, ctx: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    let lines = read_list_files(arg, ctx)?;
    from_list(lines.iter().map(String::as_str))
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits as u32) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits as u32) };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

impl Operator for IpMatch {
    fn eval(&self, i: &[u8], _: &mut OpCtx<'_>) -> bool {
        let Ok(s) = std::str::from_utf8(i) else { return false };
        let Ok(ip) = s.trim().parse::<IpAddr>() else { return false };
        self.0.iter().any(|(n, b)| in_net(ip, *n, *b))
    }
}
