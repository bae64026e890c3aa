#!/usr/bin/env bash
# build-vcard.sh — prints the path of a built tokenconfirm-vcard (the virtual OpenPGP card of
# tests/vcard), building it only when no cached copy matches the sources.
#
# Cache: ${XDG_CACHE_HOME:-$HOME/.cache}/tokenconfirm/vcard-<key>/tokenconfirm-vcard, where
# <key> is the SHA-256 of tests/vcard/Cargo.lock, Cargo.toml and every file under src/. A miss
# builds with `cargo build --release --locked` in CARGO_TARGET_DIR=<repo>/target/vcard: a
# target directory of its own, so this build never waits for (or invalidates) the main
# workspace's build lock and artifacts — the tests call this script while `cargo test` holds
# the main target directory — and trussed/opcard never land in the main workspace's graph.
#
# stdout: the binary's path, nothing else. stderr: progress. Exit 0, or 1 if the build failed.
# Needs cargo, a C compiler and libclang (littlefs2-sys runs bindgen; Debian: libclang-dev).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
SRC=$REPO/tests/vcard
CACHE_ROOT=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/tokenconfirm

key=$(
    cd "$SRC"
    { printf '%s\n' Cargo.lock Cargo.toml; find src -type f | LC_ALL=C sort; } |
        while IFS= read -r f; do printf '%s\0' "$f"; cat "$f"; done | sha256sum | cut -c1-16
)
cached=$CACHE_ROOT/vcard-$key/tokenconfirm-vcard
if [[ -x $cached ]]; then
    echo "build-vcard.sh: cached $cached" >&2
    echo "$cached"
    exit 0
fi

echo "build-vcard.sh: building tokenconfirm-vcard (opcard + trussed; first build takes about a minute)" >&2
start=$(date +%s)
if ! CARGO_TARGET_DIR=$REPO/target/vcard cargo build --release --locked \
        --manifest-path "$SRC/Cargo.toml" >&2; then
    echo "build-vcard.sh: build failed; littlefs2-sys needs libclang (Debian: apt-get install libclang-dev) and a C compiler" >&2
    exit 1
fi
echo "build-vcard.sh: built in $(( $(date +%s) - start )) s" >&2
built=$REPO/target/vcard/release/tokenconfirm-vcard
mkdir -p "$(dirname "$cached")"
# Copy then rename: a concurrent reader sees the old state or the whole binary, never half.
tmp=$(mktemp "$(dirname "$cached")/.tokenconfirm-vcard.XXXXXX")
cp "$built" "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$cached"
# Builds of other source versions, untouched for a month, go.
find "$CACHE_ROOT" -mindepth 1 -maxdepth 1 -name 'vcard-*' ! -name "vcard-$key" -mtime +30 \
    -exec rm -rf {} + 2>/dev/null || true
echo "$cached"
