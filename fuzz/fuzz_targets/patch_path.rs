//! PATCH path parser: never panics, and accepted paths print and re-parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimlab::filter::{parse_patch_path, FilterLimits};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = FilterLimits::default();
    if let Ok(path) = parse_patch_path(text, limits) {
        let printed = path.to_string();
        parse_patch_path(&printed, limits).unwrap_or_else(|e| panic!("{printed:?} does not re-parse: {e}"));
    }
});
