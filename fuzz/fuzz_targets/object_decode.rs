//! Fuzz target: patchvault::fuzzing::object_decode on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchvault::fuzzing::object_decode(data);
});
