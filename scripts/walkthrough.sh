#!/usr/bin/env bash
# patchvault walkthrough: builds the tool, generates a sample WSO2 API
# Manager home (750 real jars, ~360 MiB) and shows the everyday cycle:
# baseline commit, a hand-applied patch, status, log, diff, rollback.
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
run "$sample" patches "$work/patches" --count 1 --jars "$jars" >/dev/null
cd "$home"

step "Put the home under patchvault and record the baseline (tagged patch0000)"
run "$pv" init
run "$pv" commit -m "Baseline: WSO2 API Manager 4.2.0 as installed"

step "A server start writes logs, a pid file and OSGi caches: not tracked, status stays clean"
run "$sample" simulate-start "$home"
run "$pv" status

step "Patch by hand, as the patch README says: copy the patch jars over plugins/ and edit identity.xml"
patchdir="$work/unzipped"
rm -rf "$patchdir"; mkdir -p "$patchdir"
python3 - "$work/patches"/*.zip "$patchdir" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
cp "$patchdir"/*/patch0001/*.jar repository/components/plugins/
sed -i 's/<AccessTokenDefaultValidityPeriod>3600/<AccessTokenDefaultValidityPeriod>7200/' repository/conf/identity/identity.xml
run "$pv" status
run "$pv" commit -m "Apply WSO2-CARBON-PATCH-4.9.0-0001 by hand"
run "$pv" tag patch0001

step "History and what the patch changed"
run "$pv" log --oneline
run "$pv" diff patch0000 patch0001

step "Roll back to the baseline: only the changed files are written, and the rollback is itself a commit"
run "$pv" checkout patch0000
run "$pv" status
run "$pv" log --oneline
run "$pv" diff --stat patch0001 HEAD

step "Done. The home is back at patch0000; 'patchvault checkout patch0001' would re-apply the patch."
