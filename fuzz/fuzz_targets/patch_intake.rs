//! Fuzz target: patchvault::fuzzing::patch_intake on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchvault::fuzzing::patch_intake(data);
});
