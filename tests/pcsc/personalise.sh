#!/usr/bin/env bash
# personalise.sh PKI_DIR OUT_DIR
#
# Personalises the virtual OpenPGP card in the first reader of the pcscd that
# PCSCLITE_CSOCK_NAME points at, through OpenSC's PKCS#11 module, as a CA's registration desk
# would: an EC P-256 key pair generated ON the card, a certificate for its public key issued by
# the test CA in PKI_DIR (tests/fixtures/make-token.sh's pki/: intermediate.pem/.key), written
# onto the card. TEST ONLY.
#
# Key slot: the OpenPGP authentication key (PKCS#11 CKA_ID 03). OpenSC 0.23 exposes only the
# card's first certificate DO (7F21) and names it with ID 03, so this is the slot whose key
# and certificate the agent pairs up. EC, not RSA: OpenSC 0.23's RSA key generation on
# OpenPGP cards is broken.
#
# OUT_DIR gets card.pem/card.der (the certificate), card-pub.pem, and `env` (KEY=VALUE lines).
# stdout: the env file's path. Exit 0 ok, 1 failure, 2 usage, 3 tool missing.
set -euo pipefail
[[ $# -eq 2 && -f $1/intermediate.pem && -f $1/intermediate.key ]] ||
    { echo "usage: personalise.sh PKI_DIR OUT_DIR   (PKI_DIR from tests/fixtures/make-token.sh)" >&2; exit 2; }
PKI=$(cd -- "$1" && pwd -P)
mkdir -p -- "$2"
OUT=$(cd -- "$2" && pwd -P)
CNF=$(cd "$(dirname "${BASH_SOURCE[0]}")/../fixtures" && pwd -P)/pki.cnf

for t in pkcs11-tool openssl; do
    command -v "$t" >/dev/null || { echo "personalise.sh: $t missing (Debian: opensc / openssl)" >&2; exit 3; }
done
MODULE=${OPENSC_MODULE:-}
if [[ -z $MODULE ]]; then
    for m in /usr/lib/*-linux-gnu/opensc-pkcs11.so /usr/lib64/opensc-pkcs11.so /usr/lib/opensc-pkcs11.so; do
        [[ -f $m ]] && { MODULE=$m; break; }
    done
fi
[[ -n $MODULE ]] || { echo "personalise.sh: opensc-pkcs11.so not found (Debian: opensc-pkcs11)" >&2; exit 3; }

ADMIN_PIN=${ADMIN_PIN:-12345678}   # OpenPGP card defaults (PW3 / PW1)
USER_PIN=${USER_PIN:-123456}
KEY_ID=03
# A person of its own (the SoftHSM fixture is Иванов): SNILS 111-222-333 72
# (1*9+1*8+1*7+2*6+2*5+2*4+3*3+3*2+3*1 = 72).
SNILS=11122233372
INN=770712345633
SUBJ="/C=RU/ST=77 г. Москва/L=Москва/SN=Картов/GN=Виктор Олегович/CN=Картов Виктор Олегович/SNILS=$SNILS/INN=$INN/emailAddress=kartov@example.test"

P11=(pkcs11-tool --module "$MODULE" --slot-index 0)
log=$OUT/personalise.log
: >"$log"
run() {
    printf '+ %s\n' "$*" >>"$log"
    "$@" >>"$log" 2>&1 </dev/null || {
        echo "personalise.sh: failed: $*" >&2
        tail -n 20 "$log" | sed 's/^/    | /' >&2
        exit 1
    }
}

# 1. Key pair on the card (generation needs the admin PIN).
run "${P11[@]}" --login --login-type so --so-pin "$ADMIN_PIN" \
    --keypairgen --key-type EC:prime256v1 --id "$KEY_ID"
run "${P11[@]}" --read-object --type pubkey --id "$KEY_ID" -o "$OUT/card-pub.der"
run openssl pkey -pubin -inform DER -in "$OUT/card-pub.der" -out "$OUT/card-pub.pem"

# 2. Certificate from the test CA. OpenSSL 3.0 has no `x509 -new`: a request signed by a
#    throwaway key carries the subject, -force_pubkey puts the card's key in the certificate.
export TC_PKI=$PKI TC_CA=$PKI/ca
run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$OUT/throwaway.key"
run openssl req -new -config "$CNF" -utf8 -key "$OUT/throwaway.key" -subj "$SUBJ" -out "$OUT/card.csr"
serial=0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
run openssl x509 -req -in "$OUT/card.csr" -force_pubkey "$OUT/card-pub.pem" \
    -CA "$PKI/intermediate.pem" -CAkey "$PKI/intermediate.key" -set_serial "$serial" \
    -days 30 -sha256 -extfile "$CNF" -extensions v3_user_ec -out "$OUT/card.pem"
rm -f "$OUT/throwaway.key" "$OUT/card.csr"
run openssl verify -CAfile "$PKI/root.pem" -untrusted "$PKI/intermediate.pem" "$OUT/card.pem"
run openssl x509 -in "$OUT/card.pem" -outform DER -out "$OUT/card.der"

# 3. Onto the card (PUT DATA 7F21, admin PIN).
run "${P11[@]}" --login --login-type so --so-pin "$ADMIN_PIN" \
    --write-object "$OUT/card.der" --type cert --id "$KEY_ID"

# 4. Check: the certificate reads back, the private key is there after a user login.
objs=$("${P11[@]}" --login --pin "$USER_PIN" --list-objects 2>>"$log")
printf '%s\n' "$objs" >>"$log"
grep -q '^Certificate Object' <<<"$objs" && grep -q '^Private Key Object; EC' <<<"$objs" ||
    { echo "personalise.sh: card does not show the key and certificate (log: $log)" >&2; exit 1; }

cat >"$OUT/env" <<EOF
VCARD_MODULE=$MODULE
VCARD_KEY_ID=$KEY_ID
VCARD_USER_PIN=$USER_PIN
VCARD_ADMIN_PIN=$ADMIN_PIN
VCARD_SNILS=$SNILS
VCARD_CERT=$OUT/card.pem
EOF
echo "$OUT/env"
