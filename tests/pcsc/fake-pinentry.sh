#!/bin/sh
# A pinentry for tests (Assuan over stdin/stdout): answers every command with OK; GETPIN first
# creates $FAKE_PINENTRY_READY (if set), then waits until $FAKE_PINENTRY_GO exists (if set),
# then returns $FAKE_PINENTRY_PIN (default 123456). The wait is the "PIN dialog is open"
# moment in which agent/tests/virtual_card.rs pulls the card out.
echo "OK fake pinentry for tokenconfirm tests"
while IFS= read -r line; do
    case "$line" in
        GETPIN*)
            [ -n "${FAKE_PINENTRY_READY:-}" ] && : >"$FAKE_PINENTRY_READY"
            while [ -n "${FAKE_PINENTRY_GO:-}" ] && [ ! -e "$FAKE_PINENTRY_GO" ]; do
                sleep 0.05
            done
            echo "D ${FAKE_PINENTRY_PIN:-123456}"
            echo "OK"
            ;;
        BYE*) echo "OK"; exit 0 ;;
        *) echo "OK" ;;
    esac
done
