//! Expression AST. `Display` prints canonical expression text that parses back to the
//! same tree.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `[attributeName]`
    Attr(String),
    /// `"text"` (unescaped)
    Str(String),
    /// `42`, `-10`, `&HF7` (kept as written, evaluated as a number)
    Num(String),
    /// A bare identifier such as `vbTextCompare`.
    Ident(String),
    /// `Name(arg, , arg)`; `None` is an omitted argument.
    Call { name: String, args: Vec<Option<Expr>>, column: usize },
    /// `left = right` and friends, only as function arguments.
    Compare { op: CmpOp, left: Box<Expr>, right: Box<Expr> },
}

impl Expr {
    /// Source attributes the expression reads, in order of first use.
    pub fn attributes(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_attributes(&mut out);
        out
    }

    fn collect_attributes(&self, out: &mut Vec<String>) {
        match self {
            Expr::Attr(name) if !out.contains(name) => out.push(name.clone()),
            Expr::Call { args, .. } => args.iter().flatten().for_each(|a| a.collect_attributes(out)),
            Expr::Compare { left, right, .. } => {
                left.collect_attributes(out);
                right.collect_attributes(out);
            }
            _ => {}
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Attr(name) => write!(f, "[{name}]"),
            Expr::Str(s) => {
                f.write_str("\"")?;
                for ch in s.chars() {
                    match ch {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
            Expr::Num(n) => f.write_str(n),
            Expr::Ident(i) => f.write_str(i),
            Expr::Call { name, args, .. } => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    if let Some(a) = arg {
                        write!(f, "{a}")?;
                    }
                }
                f.write_str(")")
            }
            Expr::Compare { op, left, right } => write!(f, "{left} {} {right}", op.as_str()),
        }
    }
}
