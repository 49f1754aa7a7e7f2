//! scimlab: a SCIM 2.0 service provider, an Entra-style provisioning engine and a SCIM
//! endpoint validator in one crate.
//!
//! Layers, one way down: `http` → `service` → `store`; `filter` and `scim` are pure.

pub mod auth;
pub mod clock;
pub mod config;
pub mod filter;
pub mod http;
pub mod scim;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
