//! The SCIM filter language: parse → AST → validate against a schema → evaluate, plus
//! PATCH paths, which share the grammar.
//!
//! ```
//! use scimlab::filter::{parse_filter, FilterLimits, ValidateOptions};
//! use scimlab::scim::ResourceType;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let users = ResourceType::user();
//! let f = parse_filter(r#"emails[type eq "work"].value ew "@example.com""#, FilterLimits::default())?;
//! let f = f.validate(&users, ValidateOptions::default())?;
//! let doc = serde_json::json!({"emails": [{"type": "work", "value": "Ann@Example.com"}]});
//! assert!(f.matches(&doc));
//! # Ok(())
//! # }
//! ```

pub mod ast;
mod build;
pub mod error;
pub mod eval;
mod grammar;
mod simple;
pub mod validate;

pub use ast::{AttrPath, CompareOp, Filter, PatchPath};
pub use build::{parse_filter, parse_patch_path, FilterLimits};
pub use error::FilterError;
pub use validate::{never_returned, Expr, Target, ValidFilter, ValidateOptions};

#[cfg(test)]
mod tests;
