//! The `scimlab` binary: everything lives in the library's `cli` module.

/// mimalloc instead of glibc malloc: cycles and request handling allocate and free many
/// small JSON values, and glibc's free-list consolidation showed up as a quarter of an
/// incremental cycle's profile (docs/perf.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // SAFETY: mi_collect takes no pointers; it only returns the calling thread's free pages.
    scimlab::memory::set_release(|| unsafe { libmimalloc_sys::mi_collect(true) });
    scimlab::cli::main()
}
