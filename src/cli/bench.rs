//! `scimlab bench …`: the benchmark commands (the measurements live in `crate::bench`).

use clap::Subcommand;

use super::{emit, Exit};

#[derive(Subcommand, Debug)]
pub enum BenchKind {
    /// Main SCIM operations over HTTP (req/s, p50/p99) with a plain actix-web baseline.
    Http {
        /// User counts to measure at, in increasing order.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Requests per read operation (writes get half, paging and member adds a quarter).
        #[arg(long, default_value_t = 4000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Measure with resources in this PostgreSQL database (a schema of its own, dropped
        /// afterwards), adding rows for two replicas on it.
        #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
        database_url: Option<String>,
    },
    /// Provisioning engine: initial and incremental cycles into a local scimlab.
    Provision {
        /// Generated user counts.
        #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
        sizes: Vec<usize>,
        /// Users changed before the incremental cycle.
        #[arg(long, default_value_t = 100)]
        changes: usize,
        /// The job's concurrency towards the target.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Share of SCIM requests the server answers with 503 (e.g. 0.1).
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
    },
    /// Mixed unauthenticated garbage and authenticated traffic with recording on: data
    /// directory growth and peak memory.
    Soak {
        /// How long to run.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Requests in flight (half unauthenticated).
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Only the unauthenticated garbage, no writers.
        #[arg(long)]
        anonymous_only: bool,
    },
    /// A test suite's costs: start to ready line, and /admin/reset of a full tenant.
    Target {
        /// Users in the reset tenant and in the seed file.
        #[arg(long, default_value_t = 10_000)]
        users: usize,
        /// Measurements of each kind (the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The request hot path: `scimlab serve` processes (defaults, and without recording)
    /// against a plain actix-web handler process, GET by id and userName eq.
    Hotpath {
        /// Users seeded into each server.
        #[arg(long, default_value_t = 1000)]
        users: usize,
        /// Requests per row.
        #[arg(long, default_value_t = 20_000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Times every server is measured, in turn; the table shows each round's ratio and the median.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// A 100-user page at the front, middle and back of a large user set, and a cursor page.
    Paging {
        /// Users seeded.
        #[arg(long, default_value_t = 100_000)]
        users: usize,
        /// Requests per row.
        #[arg(long, default_value_t = 400)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// A `scimlab serve` process over a data directory holding many users: restart time and
    /// memory against an empty directory, then reads by id, userName eq, cursor and deep
    /// startIndex pages.
    Large {
        /// Users in the data directory.
        #[arg(long, default_value_t = 1_000_000)]
        users: usize,
        /// Requests per indexed read (page reads get a tenth of it).
        #[arg(long, default_value_t = 4000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Keep the filled data directory here (filled only when it does not exist), so a
        /// second run measures the same data without filling it again.
        #[arg(long)]
        data: Option<std::path::PathBuf>,
    },
    /// The plain actix-web server `bench hotpath` measures against (prints a ready line).
    #[command(hide = true)]
    BaselineServer,
    /// Filter latency and throughput at growing user counts.
    Filters {
        /// User counts to measure at, in increasing order.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Requests per indexed query (scans get 1/50 of it).
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
}

pub async fn run(which: BenchKind) -> anyhow::Result<Exit> {
    let table = match which {
        BenchKind::Http { sizes, requests, concurrency, database_url } => crate::bench::http_table(
            &crate::bench::http_bench(&sizes, requests, concurrency, database_url.as_deref()).await?,
        ),
        BenchKind::Provision { sizes, changes, concurrency, fault_rate } => {
            crate::bench::cycle_table(&crate::bench::provision_bench(&sizes, changes, concurrency, fault_rate).await?)
        }
        BenchKind::Soak { seconds, concurrency, anonymous_only } => {
            crate::bench::soak_table(&crate::bench::soak(seconds, concurrency, anonymous_only).await?)
        }
        BenchKind::Target { users, rounds } => {
            crate::bench::target_table(&crate::bench::target_bench(users, rounds).await?)
        }
        BenchKind::Large { users, requests, concurrency, data } => crate::bench::large::large_table(
            &crate::bench::large::large_bench(users, requests, concurrency, data.as_deref()).await?,
        ),
        BenchKind::Hotpath { users, requests, concurrency, rounds } => crate::bench::hotpath::hotpath_table(
            &crate::bench::hotpath::hotpath_bench(users, requests, concurrency, rounds).await?,
        ),
        BenchKind::Paging { users, requests, concurrency } => {
            crate::bench::paging::paging_table(&crate::bench::paging::paging_bench(users, requests, concurrency).await?)
        }
        BenchKind::BaselineServer => {
            crate::bench::hotpath::baseline_server().await?;
            return Ok(Exit::Clean);
        }
        BenchKind::Filters { sizes, requests, concurrency } => {
            crate::bench::filter_table(&crate::bench::filter_bench(&sizes, requests, concurrency).await?)
        }
    };
    emit(&table)?;
    Ok(Exit::Clean)
}
