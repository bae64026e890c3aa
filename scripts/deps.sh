# Shared by scripts/test.sh and scripts/demo.sh: installs what the project needs from Debian's
# packages and rustup components, only when missing. Source it; call `install_deps`.

apt_install() {
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: $*" >&2; return 1; }
    sudo="sudo"
  fi
  echo "installing Debian packages: $*" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
}

install_deps() {
  local need=()
  command -v softhsm2-util >/dev/null || need+=(softhsm2)
  command -v pkcs11-tool >/dev/null || need+=(opensc)
  command -v openssl >/dev/null || need+=(openssl)
  command -v cc >/dev/null || need+=(gcc libc6-dev)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
  dpkg -s libpcsclite-dev >/dev/null 2>&1 || need+=(libpcsclite-dev)   # the agent's PC/SC layer (pcsc crate)
  # GOST: OpenSSL's gost engine is the interop oracle (keys, certificates, CMS).
  openssl engine gost >/dev/null 2>&1 || need+=(libengine-gost-openssl)
  # PostgreSQL server for the confirmation service's suite (started by the test on loopback).
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v psql >/dev/null || need+=(postgresql-client)
  command -v sqlite3 >/dev/null || need+=(sqlite3)
  # Browser end-to-end tests: Debian's Chromium driven by playwright-core (npm).
  [ -x /usr/bin/chromium ] || need+=(chromium)
  dpkg -s chromium-l10n >/dev/null 2>&1 || need+=(chromium-l10n)   # the extension window in Russian
  command -v firefox-esr >/dev/null || need+=(firefox-esr)
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  # Real PC/SC with a virtual OpenPGP card (agent/tests/virtual_card.rs, tests/pcsc/): pcscd,
  # vsmartcard's vpcd virtual readers, and libclang with clang's headers to build the card once
  # (littlefs2-sys runs bindgen; the built card is cached, see tests/pcsc/build-vcard.sh).
  [ -x /usr/sbin/pcscd ] || need+=(pcscd)
  [ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || need+=(vsmartcard-vpcd)
  { ls /usr/lib/llvm-*/lib/libclang*.so* && ls /usr/lib/llvm-*/lib/clang/*/include/stdbool.h; } >/dev/null 2>&1 ||
    need+=(libclang-dev)
  if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
  command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; return 1; }
}

install_rust_components() {
  if command -v rustup >/dev/null; then
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy >&2
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt >&2
  fi
}
