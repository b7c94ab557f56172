//! `@eq`, `@ge`, `@gt`, `@lt`, `@le`: integer comparisons. Both sides are read like C `atoi` (leading
//! whitespace, optional sign, leading digits; anything else is 0), as ModSecurity does.

use super::{BuildCtx, OpCtx, Operator, Param};

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Ge,
    Gt,
    Lt,
    Le,
}

/// The right-hand side: a literal is read once at load (`@lt 1`, the paranoia-level checks CRS runs in
/// every phase); a macro (`@ge %{tx.inbound_anomaly_score_threshold}`) is read per evaluation from the
/// lent value, without an expansion buffer.
#[derive(Debug)]
enum Operand {
    Const(i64),
    Macro(Param),
}

#[derive(Debug)]
pub struct Numeric(Cmp, Operand);

pub(crate) fn atoi(b: &[u8]) -> i64 {
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        neg = b[i] == b'-';
        i += 1;
    }
    let mut v: i64 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add((b[i] - b'0') as i64);
        i += 1;
    }
    if neg {
        -v
    } else {
        v
    }
}

fn mk(c: Cmp, arg: &str) -> Result<Box<dyn Operator>, String> {
    let p = Param::parse(arg)?;
    let operand = match p.as_static() {
        Some(b) => Operand::Const(atoi(b)),
        None => Operand::Macro(p),
    };
    Ok(Box::new(Numeric(c, operand)))
}
pub fn build_eq(a: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    mk(Cmp::Eq, a)
}
pub fn build_ge(a: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    mk(Cmp::Ge, a)
}
pub fn build_gt(a: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    mk(Cmp::Gt, a)
}
pub fn build_lt(a: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    mk(Cmp::Lt, a)
}
pub fn build_le(a: &str, _: &BuildCtx<'_>) -> Result<Box<dyn Operator>, String> {
    mk(Cmp::Le, a)
}

impl Operator for Numeric {
    fn eval(&self, i: &[u8], ctx: &mut OpCtx<'_>) -> bool {
        let p = match &self.1 {
            Operand::Const(n) => *n,
            Operand::Macro(m) => m.with(ctx.env, atoi),
        };
        let v = atoi(i);
        let hit = match self.0 {
            Cmp::Eq => v == p,
            Cmp::Ge => v >= p,
            Cmp::Gt => v > p,
            Cmp::Lt => v < p,
            Cmp::Le => v <= p,
        };
        if hit {
            if let Some(c) = ctx.captures.as_deref_mut() {
                c.clear();
                c.push(i);
            }
        }
        hit
    }
}
