//! `scimlab provision import-entra` and `export-entra`: a job to and from Graph's
//! synchronizationSchema and secrets (docs/graph-api.md, "Configuration round trip").

use std::path::Path;

use anyhow::Context;

use super::provision::load_job;
use super::{emit, Exit};
use crate::provision::import::{import_entra, ImportSettings};

pub(super) fn import(
    schema: &Path,
    settings: &ImportSettings,
    secrets: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<Exit> {
    let text = std::fs::read_to_string(schema).with_context(|| format!("cannot read {}", schema.display()))?;
    let mut imported = import_entra(&text, &schema.display().to_string(), settings)?;
    if let Some(path) = secrets {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let body: crate::provision::graph::secrets::SecretsBody = serde_json::from_str(&text).with_context(|| {
            format!("{}: secrets are {{\"value\": [{{\"key\": \"BaseAddress\", \"value\": \"…\"}}]}}", path.display())
        })?;
        // A masked token ("*") is no token: keep --token's.
        let pairs: Vec<_> = body.value.into_iter().filter(|s| !(s.key == "SecretToken" && s.value == "*")).collect();
        let notes = crate::provision::graph::secrets::apply(&mut imported.spec, &pairs)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        imported.notes.extend(notes);
    }
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let json = serde_json::to_string_pretty(&imported.spec)? + "\n";
    match out {
        Some(path) => {
            std::fs::write(path, json).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} (set assignments before the first run)", path.display());
        }
        None => emit(&json)?,
    }
    Ok(Exit::Clean)
}

/// `provision export-entra`.
pub(super) fn export_entra(
    job: &Path,
    out: Option<&Path>,
    secrets_out: Option<&Path>,
    include_secrets: bool,
) -> anyhow::Result<Exit> {
    use crate::provision::graph::{schema, secrets, GraphIds};
    let job = load_job(job)?;
    let exported = serde_json::to_string_pretty(&schema::export(&job.spec, &GraphIds::of(&job)))? + "\n";
    let secrets_json = serde_json::to_string_pretty(&secrets::export(&job.spec, include_secrets))? + "\n";
    let secrets_path = secrets_out.map(Path::to_path_buf).or_else(|| {
        out.map(|o| {
            o.with_file_name(format!("{}.secrets.json", o.file_stem().and_then(|s| s.to_str()).unwrap_or("schema")))
        })
    });
    match out {
        Some(path) => {
            std::fs::write(path, exported).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => emit(&exported)?,
    }
    match &secrets_path {
        Some(path) => {
            std::fs::write(path, secrets_json).with_context(|| format!("cannot write {}", path.display()))?;
            let token = if include_secrets { "with the token" } else { "token masked; --include-secrets writes it" };
            eprintln!("wrote {} ({token})", path.display());
        }
        None => eprintln!("note: the secrets (BaseAddress, SyncAll, …) were not written: give --secrets-out FILE"),
    }
    Ok(Exit::Clean)
}
