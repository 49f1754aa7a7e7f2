//! The `scimlab` binary: everything lives in the library's `cli` module.

use std::os::raw::c_long;

/// mimalloc instead of glibc malloc: cycles and request handling allocate and free many
/// small JSON values, and glibc's free-list consolidation showed up as a quarter of an
/// incremental cycle's profile (docs/perf.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (include/mimalloc.h), which
/// libmimalloc-sys names only for mimalloc 2. Cargo.toml pins the version it belongs to,
/// and a test below checks that the number still names the purge delay.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc keeps freed pages before it returns them to the OS. mimalloc 3 waits
/// 1,000 ms; mimalloc 2 waited 10 ms, and so do we: with 1,000 ms the 100k-user bench cycle
/// peaked at 508–555 MB against 438–465 MB, at the same request rates (docs/perf.md,
/// round 2, "Eighth session").
const PURGE_DELAY_MS: c_long = 10;

/// The environment variable through which an operator sets the delay instead.
const PURGE_DELAY_VARIABLE: &str = "MIMALLOC_PURGE_DELAY";

fn main() -> std::process::ExitCode {
    if std::env::var_os(PURGE_DELAY_VARIABLE).is_none() {
        // SAFETY: mi_option_set takes no pointers, and no other thread exists yet to read the
        // option while it is written.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
    // SAFETY: mi_collect takes no pointers; it only returns the calling thread's free pages.
    scimlab::memory::set_release(|| unsafe { libmimalloc_sys::mi_collect(true) });
    scimlab::cli::main()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The option number still names the purge delay: before `main` sets it, the option
    /// holds mimalloc 3's default, or what the environment set. No other option defaults to
    /// 1,000 ms.
    #[test]
    fn the_option_number_names_the_purge_delay() {
        let expected = match std::env::var(PURGE_DELAY_VARIABLE) {
            Ok(value) => value.trim().parse::<c_long>().expect("MIMALLOC_PURGE_DELAY is a number of milliseconds"),
            Err(_) => 1000,
        };
        // SAFETY: mi_option_get takes no pointers.
        assert_eq!(unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) }, expected);
    }
}
