#!/usr/bin/env bash
# The main job on an embedded default: builds the agent and the verifier, creates a demo SoftHSM token holding
# a test qualified certificate (Иванов Иван Иванович, SNILS 112-233-445 95), signs
# docs/examples/challenge.json with it, and verifies the result with OpenSSL and with
# tokenconfirm-verify (chain, CRLs, qualified-test profile, identity).
# Everything it creates lives in target/demo (recreated on every run). TEST ONLY: the keys and
# PINs are public.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
install_deps

demo="$PWD/target/demo"
origin="https://portal.example"
echo "==> building tokenconfirm-agent and tokenconfirm-verify (release)" >&2
cargo build --release --locked -p tokenconfirm-agent -p tokenconfirm-verify >&2
agent="$PWD/target/release/tokenconfirm-agent"
verify="$PWD/target/release/tokenconfirm-verify"

echo "==> creating the demo token in $demo" >&2
rm -rf "$demo"
env_file=$(bash tests/fixtures/make-token.sh "$demo/token")
set -a; . "$env_file"; set +a

echo "==> certificates on the token" >&2
"$agent" --module "$TOKENCONFIRM_TEST_MODULE" list

echo
echo "==> signing docs/examples/challenge.json for $origin with the EC key (PIN $TOKENCONFIRM_TEST_PIN)" >&2
TOKENCONFIRM_DEMO_PIN="$TOKENCONFIRM_TEST_PIN" "$agent" --module "$TOKENCONFIRM_TEST_MODULE" sign \
  --challenge docs/examples/challenge.json --origin "$origin" --cert "$TOKENCONFIRM_TEST_EC_ID" \
  --pin-from-env TOKENCONFIRM_DEMO_PIN --out "$demo/confirmation.p7s" 2>"$demo/sign.log" || {
  cat "$demo/sign.log" >&2; exit 1; }
grep -v '^verify with OpenSSL' "$demo/sign.log" >&2 || true

echo
echo "==> the envelope (CMS SignedData, CAdES-BES), base64:"
base64 -w 76 "$demo/confirmation.p7s"
echo
echo "==> verifying it with OpenSSL against the demo root CA:"
cmd=(openssl cms -verify -inform DER -in "$demo/confirmation.p7s" -CAfile "$TOKENCONFIRM_TEST_PKI/root.pem" -purpose any -out "$demo/statement.json")
echo "    ${cmd[*]}"
"${cmd[@]}"
echo "==> the signed statement (canonical JSON):"
cat "$demo/statement.json"; echo
echo
echo "==> verifying it as a portal would (tokenconfirm-verify: chain to the demo root, both CRLs, qualified-test profile):"
vcmd=("$verify" cms --trust "$TOKENCONFIRM_TEST_PKI/root.pem" --crl "$TOKENCONFIRM_TEST_PKI/intermediate.crl.pem" \
  --crl "$TOKENCONFIRM_TEST_PKI/root.crl.pem" --profile qualified-test "$demo/confirmation.p7s")
echo "    ${vcmd[*]}"
"${vcmd[@]}"
echo
echo "Done. Files: $demo/confirmation.p7s (envelope), $demo/statement.json (what was signed),"
echo "$demo/token/env (token settings: SOFTHSM2_CONF, module, PIN) for trying other agent commands."
