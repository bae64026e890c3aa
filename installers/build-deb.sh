#!/usr/bin/env bash
# Builds the Debian package of tokenconfirm-agent with cargo-deb, unpacks it and checks what is
# inside; prints the .deb's path on stdout (everything else goes to stderr).
#
#   installers/build-deb.sh OUTDIR
#
# Installs cargo-deb (`cargo install cargo-deb --locked`) when it is missing. The package is
# described by [package.metadata.deb] in agent/Cargo.toml; the host manifests it ships are
# installers/debian/*/ru.tokenconfirm.agent.json.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUTDIR" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
mkdir -p "$1"
out=$(cd "$1" && pwd)

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-deb: %s\n' "$*" >&2; exit 1; }

for tool in cargo dpkg-deb cmp; do
  command -v "$tool" >/dev/null || die "$tool is needed (Debian: apt-get install dpkg cargo/rustup diffutils)"
done

if ! cargo deb --version >/dev/null 2>&1; then
  step "installing cargo-deb"
  cargo install cargo-deb --locked
fi
step "$(cargo deb --version)"

step "building the package (release build)"
# cargo-deb prints the path of the .deb it wrote as its last line.
deb=$(cargo deb -p tokenconfirm-agent --locked --output "$out" | tail -n 1)
[ -f "$deb" ] || die "cargo deb did not report a .deb (got: $deb)"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
root="$scratch/root"
step "unpacking $deb"
dpkg-deb -x "$deb" "$root"
dpkg-deb -e "$deb" "$scratch/control"

fail=0
check() { # description, command...
  local what=$1
  shift
  if "$@" >&2; then
    printf '  ok    %s\n' "$what" >&2
  else
    printf '  FAIL  %s\n' "$what" >&2
    fail=1
  fi
}

is_host_manifest() {
  jq -e '.name == "ru.tokenconfirm.agent" and .type == "stdio"
         and .path == "/usr/bin/tokenconfirm-agent"' "$1" >/dev/null
}

agent=usr/bin/tokenconfirm-agent
name=ru.tokenconfirm.agent.json
chromium_dirs=(
  etc/opt/chrome/native-messaging-hosts   # Chrome; also read by Brave, Vivaldi (and Edge as a fallback)
  etc/chromium/native-messaging-hosts
  etc/opt/edge/native-messaging-hosts
  etc/opt/yandex/browser/native-messaging-hosts
)
firefox_dir=usr/lib/mozilla/native-messaging-hosts

step "checking the contents"
check "package name is tokenconfirm-agent" \
  test "$(dpkg-deb -f "$deb" Package)" = tokenconfirm-agent
check "/$agent is an executable file" test -f "$root/$agent" -a -x "$root/$agent"
check "/$agent runs (--version)" "$root/$agent" --version
for d in "${chromium_dirs[@]}"; do
  check "/$d/$name is the Chromium-family manifest" \
    cmp -s "$root/$d/$name" installers/debian/chromium-family/$name
done
check "/$firefox_dir/$name is the Firefox manifest" \
  cmp -s "$root/$firefox_dir/$name" installers/debian/firefox/$name
for f in "${chromium_dirs[@]/%//$name}" "$firefox_dir/$name"; do
  check "/$f starts /usr/bin/tokenconfirm-agent" \
    grep -qxF '  "path": "/usr/bin/tokenconfirm-agent",' "$root/$f"
  if command -v jq >/dev/null; then
    check "/$f is a host manifest (jq)" is_host_manifest "$root/$f"
  fi
done
for f in "${chromium_dirs[@]/%//$name}"; do
  check "/$f is a conffile" grep -qxF "/$f" "$scratch/control/conffiles"
done
for doc in protocol.md README.md INSTALL.md; do
  check "/usr/share/doc/tokenconfirm-agent/$doc" test -s "$root/usr/share/doc/tokenconfirm-agent/$doc"
done
# The packaged agent's own `install --system` must write exactly the packaged manifests.
"$root/$agent" install --system --root "$scratch/installed" \
  --agent-path /usr/bin/tokenconfirm-agent >/dev/null
manifests() { (cd "$1" && find etc usr/lib/mozilla -name "$name" | sort); }
check "the package's manifests are where \`install --system\` puts them" \
  test "$(manifests "$root")" = "$(manifests "$scratch/installed")"
for f in $(manifests "$scratch/installed"); do
  check "/$f equals \`install --system\` output" cmp -s "$root/$f" "$scratch/installed/$f"
done

[ "$fail" = 0 ] || die "the package is not as expected ($deb)"
step "package OK"
echo "$deb"
