#!/usr/bin/env bash
# run-all.sh SECONDS
#
# Builds every cargo-fuzz target in this directory and runs each one for SECONDS seconds,
# starting from a temporary copy of its seed corpus (fuzz/seeds/<target>/; the seeds
# themselves are never modified). Prints one line per target:
#   <target>: ok|CRASH|FAILED  runs=<executions>  exec/s=<rate>  corpus=<entries>
# Exit status: 0 when no target crashed, 1 when any target crashed or could not run,
# 2 on a usage error.
#
# Works from a fresh clone: installs cargo-fuzz (`cargo install cargo-fuzz --locked`) when
# `cargo fuzz` is missing, and sets RUSTC_BOOTSTRAP=1 so that the stable toolchain accepts
# the nightly-only flags cargo-fuzz passes (-Zsanitizer, sanitizer coverage).
#
# Environment:
#   FUZZ_SANITIZER     address (default) | none | leak | ...; when unset and the AddressSanitizer
#                      build fails, the script falls back to `none`.
#   CARGO_TARGET_DIR   build directory (default: fuzz/target, git-ignored).
#   FUZZ_TARGETS       space-separated subset of targets (default: all from `cargo fuzz list`).
set -euo pipefail

usage() { echo "usage: fuzz/run-all.sh SECONDS   (SECONDS: positive integer, time per target)" >&2; exit 2; }
[[ $# -eq 1 && $1 =~ ^[1-9][0-9]*$ ]] || usage
SECONDS_PER_TARGET=$1

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$FUZZ_DIR"

export RUSTC_BOOTSTRAP=1
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$FUZZ_DIR/target}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run-all.sh: cargo-fuzz not found; installing it (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked >&2
fi

if [[ -n ${FUZZ_TARGETS:-} ]]; then
    read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi
[[ ${#TARGETS[@]} -gt 0 ]] || { echo "run-all.sh: no fuzz targets found" >&2; exit 1; }

# ------------------------------------------------------------------ build
SANITIZER=${FUZZ_SANITIZER:-address}
echo "run-all.sh: building ${TARGETS[*]} (sanitizer: $SANITIZER)" >&2
if ! cargo fuzz build -s "$SANITIZER" >&2; then
    if [[ -z ${FUZZ_SANITIZER:-} && $SANITIZER != none ]]; then
        echo "run-all.sh: build with -s $SANITIZER failed; retrying with -s none" >&2
        SANITIZER=none
        cargo fuzz build -s none >&2
    else
        echo "run-all.sh: build failed" >&2
        exit 1
    fi
fi

# ------------------------------------------------------------------ run
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tokenconfirm-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

stat_of() { # stat_of LOG NAME -> value of libFuzzer's final "stat::NAME:" line, or "?"
    local v
    v=$(sed -n "s/^stat::$2:[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1)
    echo "${v:-?}"
}

status=0
SUMMARY=()
for target in "${TARGETS[@]}"; do
    corpus=$WORK/corpus/$target
    log=$WORK/$target.log
    mkdir -p "$corpus"
    if [[ -d seeds/$target ]]; then
        cp -R "seeds/$target/." "$corpus/"
    else
        echo "run-all.sh: warning: no seeds/$target; starting from an empty corpus" >&2
    fi
    echo "run-all.sh: running $target for ${SECONDS_PER_TARGET}s" >&2
    rc=0
    cargo fuzz run -s "$SANITIZER" "$target" "$corpus" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=30 -print_final_stats=1 >"$log" 2>&1 || rc=$?

    runs=$(stat_of "$log" number_of_executed_units)
    rate=$(stat_of "$log" average_exec_per_sec)
    entries=$(find "$corpus" -type f | wc -l | tr -d ' ')
    if [[ $rc -eq 0 ]]; then
        verdict=ok
    elif grep -q 'Test unit written to' "$log"; then
        verdict=CRASH
        status=1
    else
        verdict=FAILED
        status=1
    fi
    line="$target: $verdict  runs=$runs  exec/s=$rate  corpus=$entries"
    SUMMARY+=("$line")

    if [[ $verdict != ok ]]; then
        {
            echo "---- $target: $verdict (cargo fuzz exit status $rc); log from the first error:"
            first=$(grep -n -m 1 -E "panicked at|==[0-9]+==ERROR|ERROR: libFuzzer|error(\[E[0-9]+\])?:" "$log" | cut -d: -f1)
            if [[ -n $first ]]; then
                tail -n +"$first" "$log" | head -n 200
            else
                tail -n 80 "$log"
            fi
            artifact=$(sed -n 's/.*Test unit written to \([^[:space:]]*\).*/\1/p' "$log" | tail -n 1)
            if [[ -n $artifact && -f $artifact ]]; then
                echo "---- artifact $artifact ($(wc -c <"$artifact" | tr -d ' ') bytes), hex (first 4096 bytes):"
                head -c 4096 "$artifact" | od -An -v -tx1 | tr -d ' \n'
                echo
                echo "---- reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -s $SANITIZER $target $artifact"
            fi
            echo "----"
        } >&2
    fi
done

for line in "${SUMMARY[@]}"; do echo "$line"; done
exit "$status"
