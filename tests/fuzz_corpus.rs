//! Replays the fuzzers' seed corpora (`fuzz/corpus/<target>/*`) as ordinary
//! tests, plus mutations of each seed (truncations and bit flips), so CI
//! exercises the same entry points without a fuzzing toolchain.

use std::fs;
use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("object_decode", patchvault::fuzzing::object_decode),
    ("index_decode", patchvault::fuzzing::index_decode),
    ("readme_parse", patchvault::fuzzing::readme_parse),
    ("patch_intake", patchvault::fuzzing::patch_intake),
];

#[test]
fn seed_corpora_and_their_mutations_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut inputs = 0;
    for (name, run) in TARGETS {
        let dir = root.join(name);
        let seeds: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .collect();
        assert!(!seeds.is_empty(), "{name} has no seeds");
        for seed in seeds {
            let data = fs::read(seed.path()).unwrap();
            run(&data);
            inputs += 1;
            for cut in (0..data.len()).step_by((data.len() / 64).max(1)) {
                run(&data[..cut]);
                inputs += 1;
            }
            for i in (0..data.len() * 8).step_by((data.len() * 8 / 256).max(1)) {
                let mut d = data.clone();
                d[i / 8] ^= 1 << (i % 8);
                run(&d);
                inputs += 1;
            }
        }
    }
    assert!(inputs > 500, "only {inputs} inputs");
}
