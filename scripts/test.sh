#!/usr/bin/env bash
# Runs every test of the project, installing what the tests need first (Debian packages via
# apt-get, Rust components via rustup, cargo-fuzz via cargo). This is the README's test command
# and exactly what CI runs (.ci/run calls this script).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_deps
install_rust_components

step() { printf '\n==> %s\n' "$*" >&2; }

step "format"
cargo fmt --all -- --check
step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
step "virtual OpenPGP card for the PC/SC tests (tests/pcsc/build-vcard.sh: built once, then cached)"
TOKENCONFIRM_VCARD=$(bash tests/pcsc/build-vcard.sh)
export TOKENCONFIRM_VCARD
step "unit, integration and conformance tests (real SoftHSM, real OpenSSL)"
cargo test --workspace --locked 2>&1 | tee -a "$log"
step "benchmark binaries still run (quick mode, no figures asserted)"
cargo test --workspace --locked --benches 2>&1 | tee -a "$log"
step "browser end-to-end: the extension in Debian's Chromium with the real agent, token and server"
cargo build --workspace --locked --bins 2>&1 | tail -1
npm ci --prefix tests/e2e --no-audit --no-fund >&2
node tests/e2e/chromium.mjs 2>&1 | tee -a "$log"
node tests/e2e/firefox.mjs 2>&1 | tee -a "$log"
step "Debian package: built with cargo-deb, unpacked into a scratch root, contents checked"
deb_out=$(mktemp -d)
bash installers/build-deb.sh "$deb_out" >&2
rm -rf "$deb_out"
step "fuzz targets (short run from the committed seeds)"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
bash fuzz/run-all.sh "$FUZZ_SECONDS"
# One closing line over every `cargo test` run above (pipefail already stopped on failures).
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
printf '\n%s passed, %s failed\n' "$passed" "$failed"
