//! The `scimlab` binary: everything lives in the library's `cli` module.

/// mimalloc instead of glibc malloc: cycles and request handling allocate and free many
/// small JSON values, and glibc's free-list consolidation showed up as a quarter of an
/// incremental cycle's profile (docs/perf.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scimlab::cli::main()
}
