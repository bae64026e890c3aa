#!/usr/bin/env bash
# pcscd-private.sh DIR
#
# Runs a PRIVATE pcscd in the foreground (exec: the PID you started is pcscd's), for tests:
#   - readers from DIR/reader.conf.d only (write a vpcd entry there, or leave it empty);
#   - clients reach it at DIR/pcscd.comm (PCSCLITE_CSOCK_NAME=DIR/pcscd.comm);
#   - nothing of a system pcscd is touched (its socket, its pid file, its USB readers).
#
# pcsc-lite 1.9.9's daemon ignores PCSCLITE_CSOCK_NAME (only the client library reads it) and
# always uses /run/pcscd/pcscd.comm and /run/pcscd/pcscd.pid. Two mechanisms get around that:
#   1. systemd socket activation (LISTEN_FDS/LISTEN_PID, which pcscd supports): if stdin is a
#      listening Unix socket (the Rust harness binds DIR/pcscd.comm and passes it), pcscd
#      serves that socket and never creates, checks or removes /run/pcscd/pcscd.comm;
#   2. a private mount namespace (unshare; as root, or unprivileged through a user namespace)
#      in which DIR is bind-mounted over /run/pcscd, so the pid file (and, without 1, the
#      socket) land in DIR, and in which /usr/lib/pcsc/drivers shows only the serial drivers,
#      so this pcscd never opens a USB reader a system pcscd is using.
# Without namespaces (some containers forbid unshare) 1 alone is used and pcscd writes, then
# removes, /run/pcscd/pcscd.pid (needs root); a warning says so. Without either it refuses.
#
# Stop it by PID (SIGTERM). Logs go to stdout/stderr (-f); PCSCD_ARGS adds options (e.g. -d -a).
set -euo pipefail

[[ $# -eq 1 && -d $1 ]] || { echo "usage: pcscd-private.sh DIR   (DIR/reader.conf.d holds the readers)" >&2; exit 2; }
DIR=$(cd -- "$1" && pwd -P)
CONF=$DIR/reader.conf.d
[[ -d $CONF ]] || { echo "pcscd-private.sh: $CONF missing" >&2; exit 2; }
PCSCD=${PCSCD:-$(command -v pcscd || echo /usr/sbin/pcscd)}
[[ -x $PCSCD ]] || { echo "pcscd-private.sh: pcscd not found (Debian: apt-get install pcscd)" >&2; exit 3; }

activated=0
[[ -S /dev/stdin ]] && activated=1

# The part that runs inside the namespace (or directly), ending in `exec pcscd`.
# shellcheck disable=SC2016
inner='
set -eu
dir=$1 conf=$2 pcscd=$3 activated=$4 ns=$5; shift 5
if [ "$ns" = 1 ]; then
    # /run/pcscd becomes our DIR. Where it does not exist, a tmpfs over /run (seen only in this
    # namespace) gives a place for it, so nothing is created on the host.
    if [ ! -d /run/pcscd ]; then
        mount -t tmpfs -o mode=755 tmpfs /run
        mkdir /run/pcscd
    fi
    mount --bind "$dir" /run/pcscd
    # USB reader drivers hidden, serial ones (vpcd) kept at the same path.
    drivers=/usr/lib/pcsc/drivers
    if [ -d "$drivers/serial" ]; then
        mkdir -p "$dir/.serial-drivers"
        mount --bind "$drivers/serial" "$dir/.serial-drivers"
        mount -t tmpfs -o mode=755 tmpfs "$drivers"
        mkdir "$drivers/serial"
        mount --bind "$dir/.serial-drivers" "$drivers/serial"
    fi
fi
if [ "$activated" = 1 ]; then
    # stdin is the listening socket: hand it over as fd 3 (SD_LISTEN_FDS_START).
    exec 3<&0 0</dev/null
    export LISTEN_FDS=1 LISTEN_PID=$$
    unset LISTEN_FDNAMES
fi
exec "$pcscd" --foreground -c "$conf" "$@"
'

# shellcheck disable=SC2206
extra=(${PCSCD_ARGS:-})
unshare_args=()
if [[ ${TOKENCONFIRM_PCSCD_NO_NAMESPACE:-} != 1 ]]; then
    if [[ $(id -u) == 0 ]] && unshare --mount --propagation private true 2>/dev/null; then
        unshare_args=(unshare --mount --propagation private)
    elif unshare --map-root-user --mount --propagation private true 2>/dev/null; then
        unshare_args=(unshare --map-root-user --mount --propagation private)
    fi
fi

if [[ ${#unshare_args[@]} -gt 0 ]]; then
    # unshare without --fork execs in place: the PID stays the one the caller knows.
    exec "${unshare_args[@]}" sh -c "$inner" sh "$DIR" "$CONF" "$PCSCD" "$activated" 1 "${extra[@]}"
fi
if [[ $activated == 1 ]]; then
    echo "pcscd-private.sh: warning: no mount namespace (unshare not permitted): this pcscd writes and removes /run/pcscd/pcscd.pid and may open USB readers" >&2
    exec sh -c "$inner" sh "$DIR" "$CONF" "$PCSCD" 1 0 "${extra[@]}"
fi
echo "pcscd-private.sh: cannot isolate pcscd: no mount namespace and no socket on stdin; it would take over /run/pcscd/pcscd.comm" >&2
exit 4
