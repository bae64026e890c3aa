#!/usr/bin/env bash
# The main job on an embedded default: builds and starts the confirmation service demo.
#
#   bash scripts/demo.sh          # build, start, confirm a demo account from the CLI, keep serving (Ctrl-C stops)
#   bash scripts/demo.sh --once   # the same, but stop after the demo confirmation (also when CI=true or no terminal)
#
# It creates (in target/demo, recreated on every run): a SoftHSM token with a TEST qualified
# certificate (Иванов Иван Иванович, SNILS 112-233-445 95; PIN printed below), the demo trust
# store (test root CA + CRLs), a SQLite database, and a config for tokenconfirm-server on
# 127.0.0.1 (port $TOKENCONFIRM_DEMO_PORT, default 8080) with the qualified-test profile.
# TEST ONLY: the keys and PINs are public.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_deps
command -v curl >/dev/null || apt_install curl

once=false
[[ ${1:-} == --once || ${CI:-} == true || ! -t 0 ]] && once=true
port=${TOKENCONFIRM_DEMO_PORT:-8080}
url="http://127.0.0.1:$port"
demo="$PWD/target/demo"

echo "==> building tokenconfirm-server, tokenconfirm-agent and tokenconfirm-verify (release)" >&2
cargo build --release --locked -p tokenconfirm-server -p tokenconfirm-agent -p tokenconfirm-verify >&2
bin="$PWD/target/release"

echo "==> creating the demo token, trust store and database in $demo" >&2
rm -rf "$demo"
env_file=$(bash tests/fixtures/make-token.sh "$demo/token")
set -a; . "$env_file"; set +a
cat >"$demo/server.toml" <<TOML
# tokenconfirm-server demo configuration (TEST trust store: never use in production)
listen = "127.0.0.1:$port"
database = "sqlite:$demo/tokenconfirm.db"
profile = "qualified-test"
trust = ["$TOKENCONFIRM_TEST_PKI/root.pem"]
crls = ["$TOKENCONFIRM_TEST_PKI/intermediate.crl.pem", "$TOKENCONFIRM_TEST_PKI/root.crl.pem"]
TOML

echo "==> starting tokenconfirm-server on $url" >&2
"$bin/tokenconfirm-server" serve --config "$demo/server.toml" >"$demo/server.out" 2>"$demo/server.log" &
server=$!
stop() { kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true; }
trap stop EXIT
for _ in $(seq 100); do
  grep -q '^listening' "$demo/server.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || { cat "$demo/server.log" >&2; echo "the server did not start (port $port busy? set TOKENCONFIRM_DEMO_PORT)" >&2; exit 1; }
  sleep 0.1
done
grep -q '^listening' "$demo/server.out" || { cat "$demo/server.log" >&2; exit 1; }

echo "==> a demo citizen registers (simplified) and fills the profile (standard) over the API" >&2
jar="$demo/cookies"; login="demo@example.test"; password="demo-password-1"
api() { curl -sS -b "$jar" -c "$jar" -H 'Content-Type: application/json' -H "X-CSRF-Token: $csrf" "$@"; }
csrf=$(curl -sS -b "$jar" -c "$jar" "$url/api/v1/session" | sed -E 's/.*"csrfToken":"([^"]+)".*/\1/')
answer=$(api -d "{\"name\":\"Иван\",\"login\":\"$login\",\"password\":\"$password\"}" "$url/api/v1/accounts")
csrf=$(sed -E 's/.*"csrfToken":"([^"]+)".*/\1/' <<<"$answer")
api -X PUT -o /dev/null -w '    profile: HTTP %{http_code}\n' "$url/api/v1/account/profile" -d \
  '{"surname":"Иванов","firstName":"Иван","patronymic":"Иванович","birthDate":"1980-01-31","snils":"112-233-445 95","passportSeries":"4501","passportNumber":"123456"}'

echo "==> confirming it with the e-signature from the CLI (PIN $TOKENCONFIRM_TEST_PIN):" >&2
cmd=("$bin/tokenconfirm-agent" --module "$TOKENCONFIRM_TEST_MODULE" confirm --server "$url" --login "$login"
     --password-from-env DEMO_PASSWORD --pin-from-env DEMO_PIN --cert "$TOKENCONFIRM_TEST_EC_ID")
echo "    ${cmd[*]}" >&2
DEMO_PASSWORD=$password DEMO_PIN=$TOKENCONFIRM_TEST_PIN "${cmd[@]}" >"$demo/confirm.json"
level=$(sed -E 's/.*"level":"([a-z]+)".*/\1/' "$demo/confirm.json")
echo "    account $login is now: $level"
[[ $level == confirmed ]] || { echo "demo confirmation failed" >&2; exit 1; }
echo "==> the audit record:" >&2
"$bin/tokenconfirm-server" audit --database "sqlite:$demo/tokenconfirm.db" | cut -c1-160

cat <<TEXT

tokenconfirm demo is running at $url  (database $demo/tokenconfirm.db, log $demo/server.log)
  * Open $url in a browser: register, fill the profile as Иванов Иван Иванович, SNILS 112-233-445 95.
    "Подтвердить электронной подписью" needs the browser extension and the agent's host manifest:
      SOFTHSM2_CONF=$SOFTHSM2_CONF $bin/tokenconfirm-agent install --browser chromium
      chromium --load-extension=$PWD/extension   (the agent then needs SOFTHSM2_CONF in the browser's environment;
      configure the module in ~/.config/tokenconfirm/agent.toml: modules = ["$TOKENCONFIRM_TEST_MODULE"])
    Without them the page says the extension is missing.
  * Confirm that account from the command line (SoftHSM demo token, PIN $TOKENCONFIRM_TEST_PIN):
      SOFTHSM2_CONF=$SOFTHSM2_CONF \\
      $bin/tokenconfirm-agent --module $TOKENCONFIRM_TEST_MODULE confirm --server $url --login YOUR_LOGIN
  * Register a confirmed account straight from the certificate: add --register to that command
    (on a fresh database: one confirmed account per SNILS).
  * Metrics: $url/metrics   Health: $url/healthz  $url/readyz
TEXT
if $once; then
  echo "(--once: stopping the server)"
  exit 0
fi
echo "Serving until Ctrl-C."
wait "$server"
