//! Filter errors. Every one maps to `400 invalidFilter` (or `invalidPath` for PATCH paths)
//! and carries enough to point at the offending spot.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum FilterError {
    /// The text does not follow the grammar.
    #[error("{message} at column {column}")]
    Syntax { column: usize, message: String },
    #[error("filter is {length} characters long; the limit is {limit}")]
    TooLong { length: usize, limit: usize },
    #[error("filter nests {depth} levels deep; the limit is {limit}")]
    TooDeep { depth: usize, limit: usize },
    /// The filter names an attribute the schema does not define.
    #[error("{message}")]
    UnknownAttribute { path: String, message: String },
    /// The operator or value does not fit the attribute's type.
    #[error("{0}")]
    Type(String),
}
