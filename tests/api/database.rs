//! Which store the suite's servers use. Without `DATABASE_URL` they keep their data in
//! sled (the default). With it (CI's second pass, `.ci/run`), every server, in process or
//! child, keeps its resources in PostgreSQL, in a schema of its own named after its data
//! directory: tests stay isolated, and a restart on the same directory finds its data.

use sha2::Digest;

/// The PostgreSQL URL the suite runs against, if any.
pub fn url() -> Option<String> {
    std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty())
}

/// A schema name derived from `key` (a data directory), or a fresh one.
pub fn schema_for(key: Option<&str>) -> String {
    let key = key.map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let digest = hex::encode(sha2::Sha256::digest(key.as_bytes()));
    format!("t_{}", &digest[..24])
}

/// Points a server's settings at its own schema when the suite runs on PostgreSQL (unless
/// the test chose a database itself, as the replica tests do).
pub fn configure(settings: &mut scimlab::config::Settings) {
    if settings.database_url.is_some() {
        return;
    }
    if let Some(url) = url() {
        let key = settings.data.as_ref().map(|d| d.display().to_string());
        settings.database_url = Some(url.into());
        settings.database_schema = Some(schema_for(key.as_deref()));
    }
}

/// Gives a child `scimlab` its own schema (it inherits `DATABASE_URL`); `args` are its
/// arguments, whose `--data` directory names the schema.
pub fn isolate(command: &mut std::process::Command, args: &[String]) {
    if url().is_some() {
        let data = args.iter().position(|a| a == "--data").and_then(|i| args.get(i + 1));
        command.env("SCIMLAB_DATABASE_SCHEMA", schema_for(data.map(String::as_str)));
    }
}

/// The URL of a test that needs PostgreSQL. Such tests are skipped without one, unless
/// SCIMLAB_REQUIRE_POSTGRES is set (CI's PostgreSQL pass), where a missing URL fails them.
pub fn required(test: &str) -> Option<String> {
    let url = url();
    if url.is_none() {
        assert!(
            std::env::var("SCIMLAB_REQUIRE_POSTGRES").is_err(),
            "SCIMLAB_REQUIRE_POSTGRES is set but DATABASE_URL is not: {test} needs a PostgreSQL database"
        );
        eprintln!("skipped {test}: set DATABASE_URL=postgres://… to run it (see .ci/postgres)");
    }
    url
}
