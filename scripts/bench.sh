#!/usr/bin/env bash
# The comparison benchmark: builds the release binaries, then runs
# patchvault, git, ostree (bare-user, archive), restic, b3sum and cp -a on
# the same generated home and patches. Arguments go to patchvault-compare
# (--jars N, --reps N, --patches N, --scale K, --only-patchvault, --json F).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bins
exec "$root/target/release/patchvault-compare" --json "$root/target/bench/compare.json" "$@"
