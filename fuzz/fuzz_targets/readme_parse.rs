//! Fuzz target: patchvault::fuzzing::readme_parse on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchvault::fuzzing::readme_parse(data);
});
