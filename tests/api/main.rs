//! One integration-test binary (each file under tests/ would be a separate binary to
//! compile and link). Add modules here, not new files in tests/.

mod architecture;
mod auth;
mod browser;
mod bulk;
mod cli;
mod database;
mod discovery;
mod entra;
mod entra_config;
mod examples;
mod faults;
mod filters;
mod graph;
mod groups;
mod helpers;
mod https;
mod patch;
mod provisioning;
mod recording;
mod reliability;
mod replicas;
mod source;
mod stub;
mod tenants;
mod testkit;
mod users;
mod validate;
mod validate_suites;
