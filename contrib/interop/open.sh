#!/usr/bin/env bash
# contrib/interop/open.sh — the other half of issue 11's interop suite: a reporter reads our
# encrypted acknowledgement with the software that sent the report. Decrypts the PGP/MIME mail
# MAIL with the producer PRODUCER and its secret KEY (the test key generate.sh left beside the
# message) and checks that the project key (keys/demo-project.asc) signed it.
#
#   bash contrib/interop/open.sh PRODUCER KEY MAIL
#
# Prints the decrypted payload; exits non-zero when the producer cannot decrypt it or does not
# find a good signature by the project key. mutt reads mail through GnuPG (GPGME), so its
# messages are opened by gpg; s-nail and Python send in the clear and are never asked.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
producer=${1:?usage: open.sh PRODUCER KEY MAIL}
key=${2:?usage: open.sh PRODUCER KEY MAIL}
mail=${3:?usage: open.sh PRODUCER KEY MAIL}
DEMO=$repo/keys/demo-project.asc
DEMO_FPR=29B8CE0FA0ABB91C11E521B0AC0FF7F0307A94FE
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
NPM=${SECMAIL_INTEROP_NPM:-$repo/target/interop/npm}

work=$(mktemp -d)
cleanup() {
    gpgconf --homedir "$work/gpg" --kill all 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# The armored OpenPGP message of the PGP/MIME mail (RFC 3156 §4), without CRs.
tr -d '\r' <"$mail" | sed -n '/^-----BEGIN PGP MESSAGE-----$/,/^-----END PGP MESSAGE-----$/p' >"$work/msg.asc"
[[ -s $work/msg.asc ]] || { echo "open.sh: no PGP message in $mail" >&2; exit 1; }

case $producer in
gpg | mutt)
    mkdir -p "$work/gpg"
    chmod 700 "$work/gpg"
    g() { gpg --homedir "$work/gpg" --batch --no-tty --quiet --pinentry-mode loopback --passphrase '' "$@"; }
    g --import "$key" "$DEMO" 2>/dev/null
    g --trust-model always --status-fd 3 --decrypt "$work/msg.asc" 3>"$work/status" 2>"$work/err" ||
        { cat "$work/err" >&2; exit 1; }
    grep -q "^\[GNUPG:\] VALIDSIG .* $DEMO_FPR$" "$work/status" ||
        { echo "open.sh: gpg found no good signature by the project key" >&2; cat "$work/status" >&2; exit 2; }
    ;;
sq)
    # With --signer-cert, sq refuses output that the cert did not sign.
    sq decrypt --recipient-key "$key" --signer-cert "$DEMO" "$work/msg.asc"
    ;;
sqop | gosop | pgpainless)
    case $producer in
    sqop) sop=(sqop decrypt --verifications-out "$work/verified") ;;
    gosop) sop=(gosop decrypt --verify-out "$work/verified") ;;
    pgpainless) sop=(pgpainless-cli decrypt --verify-out "$work/verified") ;;
    esac
    "${sop[@]}" --verify-with "$DEMO" "$key" <"$work/msg.asc"
    [[ -s $work/verified ]] ||
        { echo "open.sh: $producer found no good signature by the project key" >&2; exit 2; }
    ;;
rnp)
    r() { "$@" --homedir "$work/rnp" --notty --password ''; }
    mkdir -p "$work/rnp"
    r rnpkeys --import "$key" >/dev/null 2>&1
    r rnpkeys --import "$DEMO" >/dev/null 2>&1
    r rnp --decrypt "$work/msg.asc" --output - 2>"$work/err"
    grep -q "^Good signature" "$work/err" ||
        { echo "open.sh: rnp found no good signature by the project key" >&2; cat "$work/err" >&2; exit 2; }
    ;;
pgpy)
    "$PY" "$here/pgpy_make.py" decrypt "$key" "$DEMO" "$work/msg.asc" "$work/plain"
    cat "$work/plain"
    ;;
openpgpjs)
    NODE_PATH="$NPM/node_modules" node "$here/openpgpjs.mjs" decrypt "$key" "$DEMO" "$work/msg.asc" "$work/plain"
    cat "$work/plain"
    ;;
*)
    echo "open.sh: no way to open mail with $producer" >&2
    exit 1
    ;;
esac
