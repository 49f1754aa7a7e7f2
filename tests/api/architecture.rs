//! The dependency rules of docs/architecture.md, checked on the sources.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

fn src(module: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(module)
}

/// Files of `module` (a directory or `name.rs`) that mention any of `forbidden` as
/// `crate::<name>` (imports and paths alike).
fn violations(module: &str, forbidden: &[&str]) -> Vec<String> {
    let dir = src(module);
    let files = if dir.is_dir() { rust_files(&dir) } else { vec![src(&format!("{module}.rs"))] };
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for name in forbidden {
            let needles = [format!("crate::{name}::"), format!("crate::{name};"), format!("crate::{{{name}")];
            if needles.iter().any(|n| text.contains(n.as_str())) {
                found.push(format!("{} uses crate::{name}", file.display()));
            }
        }
    }
    found
}

#[test]
fn pure_and_server_side_modules_do_not_reach_into_the_client_side() {
    let client_side = ["provision", "validate", "http", "client", "cli", "startup", "bench"];
    let mut all = Vec::new();
    for module in ["scim", "filter", "digest", "store", "service"] {
        all.extend(violations(module, &client_side));
    }
    assert!(all.is_empty(), "layering broken:\n{}", all.join("\n"));
}

#[test]
fn the_engine_and_the_client_never_call_the_server() {
    let server_side = ["service", "store", "http", "startup", "tenants", "recording", "metrics", "faults"];
    let mut all = Vec::new();
    for module in ["provision", "client", "validate"] {
        all.extend(violations(module, &server_side));
    }
    all.extend(violations("metrics", &["provision"]));
    assert!(all.is_empty(), "layering broken:\n{}", all.join("\n"));
}

#[test]
fn reqwest_clients_are_built_in_one_module() {
    let builders: Vec<String> = rust_files(&src(""))
        .into_iter()
        .filter(|f| {
            // Code, not documentation examples (they show what a user of the crate writes).
            let text = std::fs::read_to_string(f).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            code.into_iter().any(|l| l.contains("reqwest::Client::builder") || l.contains("reqwest::Client::new"))
        })
        .map(|f| f.strip_prefix(src("")).unwrap().display().to_string())
        .collect();
    assert_eq!(builders, ["client/transport.rs"]);
}

/// Source files (relative to `src/`) that mention `needle`, other than the `allowed` ones.
fn mentions_outside(needle: &str, allowed: &[&str]) -> Vec<String> {
    rust_files(&src(""))
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(needle))
        .map(|f| f.strip_prefix(src("")).unwrap().display().to_string())
        .filter(|f| !allowed.contains(&f.as_str()))
        .collect()
}

#[test]
fn only_the_storage_implementations_and_startup_know_sled() {
    let allowed = [
        "store/sled_store.rs",
        "store/sled_store/staged.rs",
        "store/sled_store/staged_tests.rs",
        "store/mod.rs",
        "provision/state/sled_store.rs",
        "startup.rs",
    ];
    let users = mentions_outside("sled::", &allowed);
    assert!(users.is_empty(), "sled outside the storage implementations: {users:?}");
}

#[test]
fn only_the_postgres_module_and_the_storage_implementations_know_sqlx() {
    let allowed = [
        "postgres/mod.rs",
        "store/postgres/mod.rs",
        "store/postgres/resources.rs",
        "store/postgres/records.rs",
        "store/postgres/writes.rs",
        "provision/state/postgres_store.rs",
        "provision/state/postgres_pending.rs",
    ];
    let users = mentions_outside("sqlx::", &allowed);
    assert!(users.is_empty(), "sqlx outside the PostgreSQL storage: {users:?}");
}
