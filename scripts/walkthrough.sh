#!/usr/bin/env bash
# patchvault walkthrough: builds the tool, generates a sample WSO2 API
# Manager home (750 real jars, ~360 MiB) with WSO2 patch zips, and shows
# the operator's cycle: baseline, apply, patches, log, diff, revert, rollback.
#
#   scripts/walkthrough.sh [--jars N] [--keep DIR]
set -euo pipefail

jars=750
work=""
while [ $# -gt 0 ]; do
  case "$1" in
    --jars) jars="$2"; shift 2 ;;
    --keep) work="$2"; shift 2 ;;
    *) echo "usage: $0 [--jars N] [--keep DIR]" >&2; exit 2 ;;
  esac
done

root="$(cd "$(dirname "$0")/.." && pwd)"
echo "==> Building patchvault (release)"
cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bins
pv="$root/target/release/patchvault"
sample="$root/target/release/patchvault-sample"

if [ -z "$work" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
fi
home="$work/wso2am-4.2.0"
rm -rf "$home" "$work/patches"
export PATCHVAULT_AUTHOR="${PATCHVAULT_AUTHOR:-Walkthrough <ops@example.com>}"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "A sample product home with $jars jars in repository/components/plugins"
run "$sample" home "$home" --jars "$jars"
run "$sample" patches "$work/patches" --count 5 --jars "$jars" >/dev/null
cd "$home"

step "Put the home under patchvault and record the baseline (tagged patch0000)"
run "$pv" init
run "$pv" commit -m "Baseline: WSO2 API Manager 4.2.0 as installed"

step "A server start writes logs, a pid file and OSGi caches: not tracked, status stays clean"
run "$sample" simulate-start "$home"
run "$pv" status

step "Apply three WSO2 patch zips as Carbon would: jars into plugins/ under their bundle names, patches/ and .metadata kept consistent, one commit each"
run "$pv" apply --dry-run "$work/patches/WSO2-CARBON-PATCH-4.9.0-0001.zip"
run "$pv" apply "$work/patches/WSO2-CARBON-PATCH-4.9.0-0001.zip"
run "$pv" apply -q "$work/patches/WSO2-CARBON-PATCH-4.9.0-0002.zip" >/dev/null
run "$pv" apply "$work/patches/WSO2-CARBON-PATCH-4.9.0-0005.zip"

step "Which patches does this server have? Verified as Carbon does, and against the recorded state"
run "$pv" patches

step "A config edit the patch README asked for, committed by hand"
sed -i 's/<AccessTokenDefaultValidityPeriod>3600/<AccessTokenDefaultValidityPeriod>7200/' repository/conf/identity/identity.xml
run "$pv" status
run "$pv" commit -m "Token validity 2h, as asked by WSO2-CARBON-PATCH-4.9.0-0005"

step "History and what changed since the baseline"
run "$pv" log --oneline
run "$pv" diff --stat patch0000 HEAD -- repository/components/plugins repository/conf lib bin

step "Take one patch out: plugins/ gets the earlier jars back, files it placed get their earlier content back"
run "$pv" revert patch0002
run "$pv" patches

step "Roll back to the untouched install: only the files that differ are written, and the rollback is itself a commit"
run "$pv" checkout patch0000
run "$pv" status
run "$pv" log --oneline -n 3

step "Done. 'patchvault checkout HEAD~1' would bring every patch and config edit back."
