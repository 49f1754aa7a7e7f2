//! Filter parser: never panics; what parses prints canonically and re-parses to the same
//! text; validation against the User schema never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scimlab::filter::{parse_filter, FilterLimits, ValidateOptions};
use scimlab::scim::ResourceType;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = FilterLimits::default();
    let Ok(filter) = parse_filter(text, limits) else { return };
    let printed = filter.to_string();
    let reparsed = parse_filter(&printed, limits).unwrap_or_else(|e| panic!("{printed:?} does not re-parse: {e}"));
    assert_eq!(printed, reparsed.to_string(), "canonical form is not stable for {text:?}");
    let _ = filter.validate(&ResourceType::user(), ValidateOptions::default());
    let _ = filter.validate(&ResourceType::group(), ValidateOptions { boolean_strings: true, unknown_as_absent: true });
});
