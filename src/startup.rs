//! Wiring: open storage, build the service and the HTTP server. The only place that
//! knows every part.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::auth::Authenticator;
use crate::clock::{Clock, IdSource, SystemClock, UuidIds};
use crate::config::Settings;
use crate::filter::FilterLimits;
use crate::http::{self, AppState, HttpLimits};
use crate::metrics::Metrics;
use crate::provision::host::{CycleObserver, JobHost, JobStorage, Supervisor};
use crate::provision::CycleReport;

/// Hosted jobs' cycles counted in the server's metrics.
struct CycleMetrics(Arc<Metrics>);

impl CycleObserver for CycleMetrics {
    fn observe_cycle(&self, job: &str, r: &CycleReport) {
        let kind = if r.initial { "initial" } else { "incremental" };
        let objects = [
            ("created", r.created),
            ("updated", r.updated),
            ("disabled", r.disabled),
            ("deleted", r.deleted),
            ("skipped", r.skipped),
            ("failed", r.failed),
        ];
        self.0.observe_cycle(job, kind, &objects);
    }
}
use crate::postgres::PgDatabase;
use crate::scim::discovery::Capabilities;
use crate::service::{ScimService, ServiceConfig};
use crate::store::{DefinitionStore, PgDefinitions, PgStore, SledDefinitions, SledStore, Store, StoreResult};
use crate::tenants::{Tenant, Tenants, DEFAULT_TENANT};

pub struct Application {
    port: u16,
    /// `http` or `https`.
    scheme: &'static str,
    host: String,
    server: actix_web::dev::Server,
    db: sled::Db,
    service: Arc<ScimService>,
    jobs: Arc<JobHost>,
    supervisors: Vec<Supervisor>,
    tenants: Arc<Tenants>,
}

/// sled's page cache (its default is 1 GiB); hot indexes fit well within this. sled counts
/// pages as stored, and decoded they take about twice as much heap. 64 MiB read 1M users
/// as fast as 128 MiB did, and kept the 100k-user provisioning bench (engine and server in
/// one process) at 380 MB instead of 445 MB; 32 MiB halved `userName eq` at 1M users
/// (docs/perf.md, round 2).
const SLED_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Opens the sled database at `path`, or a temporary one.
pub fn open_db(path: Option<&std::path::Path>) -> anyhow::Result<sled::Db> {
    match path {
        Some(path) => sled::Config::new().path(path).cache_capacity(SLED_CACHE_BYTES).open().with_context(|| {
            format!("cannot open the data directory {} (is another scimlab using it?)", path.display())
        }),
        None => sled::Config::new()
            .temporary(true)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
            .context("cannot create a temporary database"),
    }
}

/// Where SCIM resources and tenant definitions live: the local sled database, or a
/// PostgreSQL database shared with other replicas (`--database-url`).
enum ResourceStorage {
    Sled(sled::Db),
    Postgres(Arc<PgDatabase>),
}

/// Connections per replica; PostgreSQL's default `max_connections` (100) fits several.
const POSTGRES_POOL_SIZE: u32 = 16;

impl ResourceStorage {
    fn open(settings: &Settings, db: &sled::Db) -> anyhow::Result<ResourceStorage> {
        use secrecy::ExposeSecret;
        match &settings.database_url {
            Some(url) => {
                let schema = settings.database_schema.as_deref();
                let database = PgDatabase::connect(url.expose_secret(), schema, POSTGRES_POOL_SIZE)
                    .context("cannot use the PostgreSQL database of --database-url")?;
                tracing::info!("SCIM resources and tenants are kept in PostgreSQL");
                Ok(ResourceStorage::Postgres(database))
            }
            None => Ok(ResourceStorage::Sled(db.clone())),
        }
    }

    fn open_tenant(&self, tenant: &str) -> StoreResult<Arc<dyn Store>> {
        Ok(match self {
            ResourceStorage::Sled(db) => Arc::new(SledStore::open(db, tenant)?),
            ResourceStorage::Postgres(database) => Arc::new(PgStore::open(Arc::clone(database), tenant)),
        })
    }

    /// The database replicas share, if any (hosted jobs keep their state there too).
    fn shared_database(&self) -> Option<Arc<PgDatabase>> {
        match self {
            ResourceStorage::Sled(_) => None,
            ResourceStorage::Postgres(database) => Some(Arc::clone(database)),
        }
    }

    fn definitions(&self) -> StoreResult<Box<dyn DefinitionStore>> {
        Ok(match self {
            ResourceStorage::Sled(db) => Box::new(SledDefinitions::open(db, "tenant_definitions")?),
            ResourceStorage::Postgres(database) => Box::new(PgDefinitions::new(Arc::clone(database))),
        })
    }
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, Arc::new(SystemClock), Arc::new(UuidIds))
    }

    /// Like [`Application::build`], with the clock and id source given (tests fix them).
    pub fn build_with(settings: Settings, clock: Arc<dyn Clock>, ids: Arc<dyn IdSource>) -> anyhow::Result<Self> {
        // With PostgreSQL nothing lives in the data directory: replicas on one host (or one
        // working directory) must not contend for its lock.
        let local_data = if settings.database_url.is_some() { None } else { settings.data.as_deref() };
        let db = open_db(local_data)?;
        let clock_for_jobs = Arc::clone(&clock);
        let resources = ResourceStorage::open(&settings, &db)?;
        let store = resources.open_tenant("default").context("cannot open the default tenant's storage")?;
        let filter_limits =
            FilterLimits { max_length: settings.filter_max_length, max_depth: settings.filter_max_depth };
        let service_config = ServiceConfig {
            profile: settings.profile,
            max_results: settings.max_results,
            filter_limits,
            durable_writes: settings.data.is_some(),
        };
        let service = Arc::new(ScimService::new(store, Arc::clone(&clock), Arc::clone(&ids), service_config.clone()));
        let auth = if settings.no_auth {
            Authenticator::open()
        } else {
            Authenticator::new(settings.tokens.clone(), &settings.jwt)?
        };
        let capabilities = Capabilities {
            max_results: settings.max_results,
            filter_max_length: settings.filter_max_length,
            filter_max_depth: settings.filter_max_depth,
            bulk_supported: true,
            bulk_max_operations: settings.bulk_max_operations,
            bulk_max_payload: settings.max_payload_bytes,
            etag_supported: true,
            cursor_supported: true,
            jwt_enabled: auth.jwt_enabled(),
            documentation_uri: settings.documentation_uri.clone(),
        };
        let auth = Arc::new(auth);
        // Seeds are checked before anything listens: a bad file refuses the start.
        let seeds = crate::tenants::read_seeds(&settings.seeds)?;
        for (path, resources) in &seeds {
            let report = crate::service::seed::apply(&service, path, resources)?;
            tracing::info!(file = %path.display(), created = report.created, already_there = report.already_there, "seeded");
        }
        let faults = Arc::new(crate::faults::Faults::new(settings.faults.clone()));
        let default_tenant = Arc::new(Tenant {
            name: DEFAULT_TENANT.into(),
            service: Arc::clone(&service),
            auth: Arc::clone(&auth),
            faults: Arc::clone(&faults),
            profile: settings.profile,
            seeds: Arc::new(seeds),
        });
        let definitions = resources.definitions()?;
        let shared_database = resources.shared_database();
        let open_service: crate::tenants::ServiceFactory = Box::new(move |name, profile| {
            // Same data for the same name: the store is the tenant's key prefix (sled) or
            // column value (PostgreSQL).
            let store = resources.open_tenant(name)?;
            let config = ServiceConfig { profile, ..service_config.clone() };
            Ok(ScimService::new(store, Arc::clone(&clock), Arc::clone(&ids), config))
        });
        let tenants = Arc::new(Tenants::open(open_service, definitions, default_tenant, &settings.tenants)?);
        let metrics = Arc::new(crate::metrics::Metrics::default());
        // Replicas on one database record into one shared ring.
        let recorder = match &shared_database {
            Some(database) => crate::recording::Recorder::shared(
                settings.record_capacity,
                Arc::new(crate::store::PgRecordLog::new(Arc::clone(database))),
            ),
            None => crate::recording::Recorder::new(settings.record_capacity),
        };
        let job_root = local_data.map(|d| d.join("jobs"));
        let job_storage = match shared_database {
            Some(database) => JobStorage::Shared(database),
            None => JobStorage::Local(job_root.as_deref()),
        };
        let (jobs, supervisors) = JobHost::load(
            &settings.jobs,
            job_storage,
            Arc::clone(&clock_for_jobs),
            Arc::new(CycleMetrics(Arc::clone(&metrics))),
        )?;
        if !jobs.is_empty() && settings.admin_token.is_none() {
            tracing::warn!("hosted jobs run, but /admin/jobs is off until --admin-token is set");
        }
        let jobs = Arc::new(jobs);
        let state = web::Data::new(AppState {
            service: Arc::clone(&service),
            capabilities,
            limits: HttpLimits { max_payload_bytes: settings.max_payload_bytes },
            public_discovery: settings.public_discovery,
            public_url: settings.public_url.clone(),
            admin_token: settings.admin_token.clone(),
            jobs: Arc::clone(&jobs),
            recorder: Arc::new(recorder),
            metrics,
            tenants: Arc::clone(&tenants),
            clock: Arc::clone(&clock_for_jobs),
        });
        let listener =
            TcpListener::bind(&settings.addr).with_context(|| format!("cannot listen on {}", settings.addr))?;
        let local = listener.local_addr()?;
        let port = local.port();
        // The address a client on this machine reaches: the bound one, or loopback for a
        // wildcard bind (0.0.0.0, [::]).
        let host = match local.ip() {
            std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
            std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let tls = match &settings.tls {
            Some(files) => Some(http::tls::server_config(&files.cert, &files.key)?),
            None => None,
        };
        let mut server = HttpServer::new(move || {
            App::new().app_data(state.clone()).wrap_fn(http::request_logger).configure(http::configure)
        })
        .shutdown_timeout(10)
        // Signals are the process's business (`serve` handles them), not the library's: an
        // in-process server (TestServer, the benches) leaves Ctrl-C to its host.
        .disable_signals();
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        let (server, scheme) = match tls {
            Some(config) => (server.listen_rustls_0_23(listener, config)?, "https"),
            None => (server.listen(listener)?, "http"),
        };
        let server = server.run();
        Ok(Application { host, port, scheme, server, db, service, jobs, supervisors, tenants })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The default tenant's SCIM base URL as reached from this machine.
    pub fn base_url(&self) -> String {
        format!("{}://{}:{}/scim/v2", self.scheme, self.host, self.port)
    }

    /// The service behind the default tenant (benchmarks seed through it directly).
    pub fn service(&self) -> Arc<ScimService> {
        Arc::clone(&self.service)
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until Ctrl-C/SIGTERM (or the handle stops it), then flushes storage.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let tasks: Vec<_> = self.supervisors.into_iter().map(|s| actix_web::rt::spawn(s.run())).collect();
        self.server.await?;
        self.jobs.shutdown();
        for task in tasks {
            task.abort();
        }
        for tenant in self.tenants.all() {
            if let Err(e) = tenant.service.store().close() {
                tracing::warn!(tenant = %tenant.name, error = %e, "closing the tenant's storage failed");
            }
        }
        self.db.flush_async().await.context("flushing storage on shutdown")?;
        tracing::info!("stopped; storage flushed");
        Ok(())
    }
}
