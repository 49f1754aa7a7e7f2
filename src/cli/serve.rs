//! `scimlab serve` and `scimlab token`.

use anyhow::Context;

use crate::auth::{mint_token, Claims};
use crate::config::{ServeArgs, Settings};
use crate::startup::Application;

use super::{emit_line, Exit};

pub fn serve(args: &ServeArgs) -> anyhow::Result<Exit> {
    let settings = Settings::from_args(args)?;
    if let Some(path) = &settings.ready_file {
        // A ready file left by an earlier run must not announce this one before it listens.
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(anyhow::Error::new(e).context(format!("cannot replace the ready file {}", path.display())))
            }
            _ => {}
        }
    }
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings.clone())?;
        crate::memory::release_freed();
        stop_on_signals(app.handle())?;
        tracing::info!(url = %app.base_url(), profile = %settings.profile, "scimlab serving SCIM");
        // One machine-readable line once the listener is bound, so a harness can start the
        // server on port 0 and learn its address without polling.
        let admin = app.base_url().replace("/scim/v2", "/admin");
        let ready = serde_json::json!({"event": "ready", "url": app.base_url(), "admin": admin}).to_string();
        if let Some(path) = &settings.ready_file {
            // Written whole and then renamed, so a reader never sees half a line.
            let partial = path.with_extension("partial");
            std::fs::write(&partial, format!("{ready}\n"))
                .and_then(|()| std::fs::rename(&partial, path))
                .with_context(|| format!("cannot write the ready file {}", path.display()))?;
        }
        emit_line(&ready)?;
        app.run_until_stopped().await
    })?;
    Ok(Exit::Clean)
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    /// The server's --jwt-secret.
    #[arg(long)]
    secret: String,
    /// Audience claim (`aud`).
    #[arg(long)]
    aud: Option<String>,
    /// Issuer claim (`iss`).
    #[arg(long)]
    iss: Option<String>,
    /// Subject claim (`sub`).
    #[arg(long, default_value = "scimlab-test")]
    sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
}

pub fn token(args: &TokenArgs) -> anyhow::Result<Exit> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    let mut claims = Claims::new(now, args.ttl);
    claims.aud = args.aud.clone().map(Into::into);
    claims.iss = args.iss.clone();
    claims.sub = Some(args.sub.clone());
    emit_line(&mint_token(&args.secret, &claims)?)?;
    Ok(Exit::Clean)
}

/// Stops the server on SIGTERM (gracefully) and on SIGINT/SIGQUIT (at once; storage is
/// still flushed). The handlers are in place when this returns, before the ready line is
/// printed: actix-web's own were installed only once the server ran, so a SIGTERM sent right
/// after the ready line killed the process without a flush.
#[cfg(unix)]
fn stop_on_signals(handle: actix_web::dev::ServerHandle) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut quit = signal(SignalKind::quit()).context("cannot handle SIGQUIT")?;
    actix_web::rt::spawn(async move {
        let graceful = tokio::select! {
            _ = term.recv() => true,
            _ = int.recv() => false,
            _ = quit.recv() => false,
        };
        tracing::info!(graceful, "stop signal received");
        handle.stop(graceful).await;
    });
    Ok(())
}

#[cfg(not(unix))]
fn stop_on_signals(handle: actix_web::dev::ServerHandle) -> anyhow::Result<()> {
    actix_web::rt::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            handle.stop(false).await;
        }
    });
    Ok(())
}
