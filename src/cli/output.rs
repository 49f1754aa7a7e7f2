//! Standard output for commands: a closed pipe (`scimlab provision logs | head`) ends the
//! command quietly instead of panicking, and exit codes are one table for every command.

use std::io::Write;
use std::process::ExitCode;

/// The exit codes every command uses (README "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done, nothing failed.
    Clean = 0,
    /// Could not do what was asked: bad usage or configuration, unreachable endpoint.
    Error = 1,
    /// Done, but some objects failed (escrowed) or required checks failed.
    Failures = 2,
    /// Nothing done because the job is quarantined, paused or disabled.
    Held = 3,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Stdout went away (the reader closed the pipe): stop writing, it is not an error.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct PipeClosed;

/// Writes `text` to standard output.
pub fn emit(text: &str) -> Result<(), anyhow::Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(PipeClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// `emit` with a newline.
pub fn emit_line(text: &str) -> Result<(), anyhow::Error> {
    emit(&format!("{text}\n"))
}

/// Output format of commands that print a result.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// For scripts.
    Json,
}
