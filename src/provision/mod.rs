//! The provisioning engine: an Entra-style provisioning service that reads a source
//! directory and drives any SCIM endpoint over HTTP. It is a SCIM *client*: it never calls
//! the server's service or store code.

pub mod directory;
pub mod engine;
pub mod expr;
pub mod graph;
pub mod graph_mapping;
pub mod health;
pub mod host;
pub mod import;
pub mod job;
pub mod log;
pub mod log_query;
pub mod mapping_view;
mod scim_source;
pub mod scoping;
pub mod shape;
mod source_snapshot;
pub mod state;

pub use engine::{CycleReport, Engine, EngineError, NoProgress, OnDemandTrace, Progress};
pub use job::{Job, JobError};
pub use state::JobState;
