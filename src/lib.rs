//! scimlab: a SCIM 2.0 service provider, an Entra-style provisioning engine and a SCIM
//! endpoint validator in one crate.
//!
//! Layers, one way down: `http` → `service` → `store`; `filter` and `scim` are pure.

#![forbid(unsafe_code)]
#![deny(clippy::todo, clippy::unimplemented, clippy::dbg_macro)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod auth;
pub mod batching;
pub mod bench;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod digest;
pub mod faults;
pub mod filter;
pub mod http;
pub mod memory;
pub mod metrics;
pub mod postgres;
pub mod provision;
pub mod recording;
pub mod scim;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tenants;
pub mod testing;
pub mod validate;
