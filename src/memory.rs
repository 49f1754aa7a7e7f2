//! Returning freed memory to the operating system at chosen moments. The allocator is the
//! binary's choice (mimalloc, `src/main.rs`), so the binary registers how.

use std::sync::OnceLock;

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Registers how the process's allocator returns freed memory; `main` calls it once.
pub fn set_release(release: fn()) {
    let _ = RELEASE.set(release);
}

/// Returns what the calling thread freed to the operating system. mimalloc keeps a
/// thread's freed pages until that thread allocates again, and the thread that opened the
/// data directory then only waits for the server to stop: after opening 1M users, sled's
/// recovery left about 100 MB freed but resident (docs/perf.md).
pub fn release_freed() {
    if let Some(release) = RELEASE.get() {
        release();
    }
}
