#!/usr/bin/env bash
# contrib/interop/generate.sh — issue 11's interop suite: reports to security@example.org made by
# independent OpenPGP and mail software, each with a key of its own, signed by that key and
# encrypted to the demo project key (keys/demo-project.asc); plus plain mail in legacy charsets.
# tests/it/producers.rs runs this and puts every message through the pipeline, asserting the
# row of expected.tsv (beside this file) that has the message's name.
#
#   bash contrib/interop/generate.sh OUT_DIR
#
# Writes OUT_DIR/NAME.eml for each message, OUT_DIR/NAME.key (the sender's secret key, for
# open.sh to read our answer with the same software), OUT_DIR/versions (what made them) and
# OUT_DIR/missing (one "producer<TAB>why" a line for each producer that is not installed; the
# test fails on it in CI and skips those rows locally). contrib/test.sh installs every producer:
# Debian's gnupg sq sqop rnp gosop pgpainless-cli python3-pgpy mutt s-nail, and OpenPGP.js from
# the npm registry into target/interop/npm (SECMAIL_INTEROP_NPM overrides).
#
# Every key made here is a throwaway TEST key, made anew on each run, never committed and
# left only in OUT_DIR. Dates are fixed where we write them (the Date header of our framing, s-nail's clock);
# the producers sign at the real time, since GopenPGP, PGPainless and mutt offer no other.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: generate.sh OUT_DIR}
mkdir -p "$out"
rm -f "$out"/*.eml "$out"/*.key "$out/missing" "$out/versions" "$out/times"
work=$(mktemp -d)
homes=()
cleanup() {
    local status=$? h
    if ((status != 0)); then
        # What the producers said (their own logs) is the only clue to why one failed.
        echo "generate.sh: failed ($status); producer logs:" >&2
        tail -n 20 "$work"/*.log >&2 2>/dev/null || true
    fi
    for h in "${homes[@]}"; do
        gpgconf --homedir "$h" --kill all 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

DEMO=$repo/keys/demo-project.asc
DEMO_FPR=29B8CE0FA0ABB91C11E521B0AC0FF7F0307A94FE
TO=security@example.org
# Debian's python: python3-pgpy installs there, whatever python3 comes first on PATH.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
MIME=("$PY" "$here/mime.py")
NPM=${SECMAIL_INTEROP_NPM:-$repo/target/interop/npm}

missing() { printf '%s\t%s\n' "$1" "$2" >>"$out/missing"; }
version() { printf '%s\t%s\n' "$1" "$2" >>"$out/versions"; }
have() { command -v "$1" >/dev/null 2>&1; }
# The framing helpers write to stdout; eml NAME CMD... puts it in place, and the sender's
# secret key ($KEY, set by each producer) beside it.
KEY=
eml() {
    local name=$1
    shift
    "${MIME[@]}" "$@" >"$out/$name.eml"
    keep_key "$name"
}
keep_key() { if [[ -n $KEY ]]; then cp "$KEY" "$out/$1.key"; fi; }
payload() { "${MIME[@]}" payload "$@"; }
text() { printf 'Report %s: the parser overflows on a 70000-byte header line.\n' "$1"; }

# --- GnuPG ---------------------------------------------------------------------------------
gpg_user() { # gpg_user HOME NAME EMAIL: a home with a new key and the project's cert
    local home=$1
    mkdir -p "$home"
    chmod 700 "$home"
    homes+=("$home")
    G "$home" --quick-gen-key "$2 <$3>" ed25519 sign never
    local fpr
    fpr=$(G "$home" --with-colons --list-secret-keys "$3" | awk -F: '/^fpr/ { print $10; exit }')
    G "$home" --quick-add-key "$fpr" cv25519 encr never
    G "$home" --import "$DEMO"
}
G() {
    local home=$1
    shift
    gpg --homedir "$home" --batch --yes --no-tty --quiet --pinentry-mode loopback \
        --passphrase '' --trust-model always "$@" 2>>"$work/gpg.log"
}

make_gpg() {
    have gpg || { missing gpg "gpg not found (Debian: gnupg)"; return; }
    version gpg "$(gpg --version | head -1)"
    local h=$work/gpg u=gpg@reporter.example
    gpg_user "$h" "Gpg Reporter" "$u"
    G "$h" --armor --export "$u" >"$work/gpg.cert"
    G "$h" --armor --export-secret-keys "$u" >"$work/gpg.key"
    KEY=$work/gpg.key
    local ac=(--autocrypt "$work/gpg.cert")
    se() { G "$h" --armor --sign --encrypt -u "$u" -r "$TO" "$@"; }

    payload gpg-pgpmime | se >"$work/a"
    eml gpg-pgpmime pgpmime gpg-pgpmime "Overflow in the header parser" "$work/a" "${ac[@]}"

    payload gpg-emit-version | se --emit-version >"$work/a"
    eml gpg-emit-version pgpmime gpg-emit-version "Overflow in the header parser" "$work/a"

    # Enigmail's armor, and its "attach my public key" inside the encryption.
    payload gpg-comment --key "$work/gpg.cert" |
        se --emit-version --comment "Using GnuPG with Thunderbird - https://www.enigmail.net/" >"$work/a"
    eml gpg-comment pgpmime gpg-comment "Overflow in the header parser" "$work/a"

    text gpg-inline | se >"$work/a"
    eml gpg-inline inline gpg-inline "Overflow in the header parser" "$work/a" "${ac[@]}"

    text gpg-clearsign | G "$h" --clearsign -u "$u" >"$work/a"
    eml gpg-clearsign inline gpg-clearsign "Overflow in the header parser" "$work/a" "${ac[@]}"

    payload gpg-signed >"$work/entity"
    G "$h" --armor --detach-sign --digest-algo SHA256 -u "$u" <"$work/entity" >"$work/sig"
    eml gpg-signed signed gpg-signed "Overflow in the header parser" "$work/entity" "$work/sig" "${ac[@]}"

    # A report written to a file, encrypted and attached (issue 11.3): armored and typed
    # application/pgp-encrypted as scripts and webmails do, and binary as a .gpg file.
    text gpg-attachment | se >"$work/a"
    eml gpg-attachment attachment gpg-attachment "Overflow in the header parser" "$work/a" \
        report.txt.asc application/pgp-encrypted "${ac[@]}"
    text gpg-attachment-binary | G "$h" --sign --encrypt -u "$u" -r "$TO" >"$work/b"
    eml gpg-attachment-binary attachment gpg-attachment-binary "Overflow in the header parser" \
        "$work/b" report.txt.gpg application/octet-stream "${ac[@]}"

    # A reporter's mistakes: encrypted to their own key, or with a passphrase only.
    payload gpg-not-for-us | G "$h" --armor --sign --encrypt -u "$u" -r "$u" >"$work/a"
    eml gpg-not-for-us pgpmime gpg-not-for-us "Overflow in the header parser" "$work/a" "${ac[@]}"
    payload gpg-passphrase |
        gpg --homedir "$h" --batch --no-tty --quiet --pinentry-mode loopback \
            --passphrase 'correct horse' --armor --symmetric 2>>"$work/gpg.log" >"$work/a"
    eml gpg-passphrase pgpmime gpg-passphrase "Overflow in the header parser" "$work/a"

    # Without integrity protection (RFC 2440 mode, no MDC): refused, quarantined, the team told.
    payload gpg-no-mdc |
        G "$h" --rfc2440 --disable-mdc --cipher-algo CAST5 --armor --sign --encrypt -u "$u" \
            -r "$TO" >"$work/a"
    eml gpg-no-mdc pgpmime gpg-no-mdc "Overflow in the header parser" "$work/a"
}

# --- Sequoia: sq and sqop ------------------------------------------------------------------
make_sq() {
    have sq || { missing sq "sq not found (Debian: sq)"; return; }
    version sq "$(sq --version | head -1)"
    sq key generate --userid "Sq Reporter <sq@reporter.example>" --export "$work/sq.key" 2>/dev/null
    sq key extract-cert "$work/sq.key" >"$work/sq.cert"
    KEY=$work/sq.key
    payload sq-pgpmime | sq encrypt --recipient-cert "$DEMO" --signer-key "$work/sq.key" >"$work/a"
    eml sq-pgpmime pgpmime sq-pgpmime "Overflow in the header parser" "$work/a" --autocrypt "$work/sq.cert"
    text sq-inline | sq encrypt --recipient-cert "$DEMO" --signer-key "$work/sq.key" >"$work/a"
    eml sq-inline inline sq-inline "Overflow in the header parser" "$work/a"
}

make_sqop() {
    have sqop || { missing sqop "sqop not found (Debian: sqop)"; return; }
    version sqop "sqop $(sqop version)"
    sqop generate-key "Sqop Reporter <sqop@reporter.example>" >"$work/sqop.key"
    sqop extract-cert <"$work/sqop.key" >"$work/sqop.cert"
    KEY=$work/sqop.key
    payload sqop-pgpmime --key "$work/sqop.cert" |
        sqop encrypt --sign-with "$work/sqop.key" "$DEMO" >"$work/a"
    eml sqop-pgpmime pgpmime sqop-pgpmime "Overflow in the header parser" "$work/a"
    text sqop-clearsign | sqop inline-sign --as clearsigned "$work/sqop.key" >"$work/a"
    eml sqop-clearsign inline sqop-clearsign "Overflow in the header parser" "$work/a" \
        --autocrypt "$work/sqop.cert"
}

# --- RNP (Thunderbird's OpenPGP library) ------------------------------------------------------
make_rnp() {
    if ! have rnp || ! have rnpkeys; then
        missing rnp "rnp not found (Debian: rnp)"
        return
    fi
    version rnp "$(rnp --version | head -1)"
    local h=$work/rnp u=rnp@reporter.example
    mkdir -p "$h"
    R() { "$@" --homedir "$h" --notty --password '' 2>>"$work/rnp.log"; }
    R rnpkeys --generate-key --userid "Rnp Reporter <$u>" --expiration 0 >/dev/null
    R rnpkeys --import "$DEMO" >/dev/null
    R rnpkeys --export-key "$u" --output "$work/rnp.cert" --overwrite
    R rnpkeys --export-key --secret "$u" --output "$work/rnp.key" --overwrite
    KEY=$work/rnp.key
    payload rnp-pgpmime | R rnp --encrypt --sign --armor -r "$DEMO_FPR" -u "$u" --output - >"$work/a"
    eml rnp-pgpmime pgpmime rnp-pgpmime "Overflow in the header parser" "$work/a"
    # The LibrePGP AEAD (OCB) packet, as RNP writes it when asked.
    payload rnp-aead |
        R rnp --encrypt --sign --armor --aead=OCB -r "$DEMO_FPR" -u "$u" --output - >"$work/a"
    eml rnp-aead pgpmime rnp-aead "Overflow in the header parser" "$work/a" --autocrypt "$work/rnp.cert"
}

# --- GopenPGP (ProtonMail) through gosop ------------------------------------------------------
make_gosop() {
    have gosop || { missing gosop "gosop not found (Debian: gosop)"; return; }
    version gosop "$(gosop version 2>/dev/null || echo gosop)"
    gosop generate-key "Gosop Reporter <gosop@reporter.example>" >"$work/gosop.key"
    gosop extract-cert <"$work/gosop.key" >"$work/gosop.cert"
    KEY=$work/gosop.key
    payload gosop-pgpmime | gosop encrypt --sign-with "$work/gosop.key" "$DEMO" >"$work/a"
    eml gosop-pgpmime pgpmime gosop-pgpmime "Overflow in the header parser" "$work/a" \
        --autocrypt "$work/gosop.cert"
    text gosop-inline | gosop encrypt --sign-with "$work/gosop.key" "$DEMO" >"$work/a"
    eml gosop-inline inline gosop-inline "Overflow in the header parser" "$work/a"
}

# --- PGPainless (Java) ----------------------------------------------------------------------
make_pgpainless() {
    have pgpainless-cli || { missing pgpainless "pgpainless-cli not found (Debian: pgpainless-cli)"; return; }
    version pgpainless "$(pgpainless-cli version 2>/dev/null | head -1)"
    local P=pgpainless-cli
    $P generate-key "Pgpainless Reporter <pgpainless@reporter.example>" >"$work/pgpainless.key"
    $P extract-cert <"$work/pgpainless.key" >"$work/pgpainless.cert"
    KEY=$work/pgpainless.key
    payload pgpainless-pgpmime | $P encrypt --sign-with "$work/pgpainless.key" "$DEMO" >"$work/a"
    eml pgpainless-pgpmime pgpmime pgpainless-pgpmime "Overflow in the header parser" "$work/a" \
        --autocrypt "$work/pgpainless.cert"
    text pgpainless-attachment |
        $P encrypt --no-armor --sign-with "$work/pgpainless.key" "$DEMO" >"$work/b"
    eml pgpainless-attachment attachment pgpainless-attachment "Overflow in the header parser" \
        "$work/b" report.pgp application/octet-stream --autocrypt "$work/pgpainless.cert"
}

# --- PGPy (Python) --------------------------------------------------------------------------
make_pgpy() {
    "$PY" -c 'import pgpy' 2>/dev/null || { missing pgpy "PGPy not importable by $PY (Debian: python3-pgpy)"; return; }
    version pgpy "PGPy $(dpkg-query -W -f='${Version}' python3-pgpy 2>/dev/null || echo '?')"
    local M=("$PY" "$here/pgpy_make.py")
    "${M[@]}" key "Pgpy Reporter" pgpy@reporter.example "$work/pgpy.key" "$work/pgpy.cert"
    KEY=$work/pgpy.key
    payload pgpy-pgpmime --key "$work/pgpy.cert" >"$work/in"
    "${M[@]}" encrypt "$work/pgpy.key" "$DEMO" "$work/in" "$work/a"
    eml pgpy-pgpmime pgpmime pgpy-pgpmime "Overflow in the header parser" "$work/a"
    text pgpy-inline >"$work/in"
    "${M[@]}" encrypt "$work/pgpy.key" "$DEMO" "$work/in" "$work/a"
    eml pgpy-inline inline pgpy-inline "Overflow in the header parser" "$work/a"
}

# --- OpenPGP.js (Mailvelope, FlowCrypt, Proton's web client) under node ---------------------------
make_openpgpjs() {
    have node || { missing openpgpjs "node not found (Debian: nodejs)"; return; }
    [[ -d $NPM/node_modules/openpgp ]] ||
        { missing openpgpjs "OpenPGP.js not installed in $NPM (contrib/test.sh installs it)"; return; }
    local J=(env NODE_PATH="$NPM/node_modules" node "$here/openpgpjs.mjs")
    version openpgpjs "OpenPGP.js $(node -p "require('$NPM/node_modules/openpgp/package.json').version") on node $(node --version)"
    "${J[@]}" key "Openpgpjs Reporter" openpgpjs@reporter.example "$work/js.key" "$work/js.cert"
    KEY=$work/js.key
    payload openpgpjs-pgpmime >"$work/in"
    "${J[@]}" encrypt "$work/js.key" "$DEMO" "$work/in" "$work/a" default
    eml openpgpjs-pgpmime pgpmime openpgpjs-pgpmime "Overflow in the header parser" "$work/a" \
        --autocrypt "$work/js.cert"
    payload openpgpjs-mailvelope >"$work/in"
    "${J[@]}" encrypt "$work/js.key" "$DEMO" "$work/in" "$work/a" mailvelope
    eml openpgpjs-mailvelope pgpmime openpgpjs-mailvelope "Overflow in the header parser" "$work/a" \
        --autocrypt "$work/js.cert"
    text openpgpjs-flowcrypt >"$work/in"
    "${J[@]}" encrypt "$work/js.key" "$DEMO" "$work/in" "$work/a" flowcrypt
    eml openpgpjs-flowcrypt inline openpgpjs-flowcrypt "Overflow in the header parser" "$work/a"
    # An RFC 9580 (version 6) key of the reporter's.
    "${J[@]}" key "Openpgpjs Reporter" openpgpjs@reporter.example "$work/js6.key" "$work/js6.cert" v6
    KEY=$work/js6.key
    payload openpgpjs-v6 >"$work/in"
    "${J[@]}" encrypt "$work/js6.key" "$DEMO" "$work/in" "$work/a" default
    eml openpgpjs-v6 pgpmime openpgpjs-v6 "Overflow in the header parser" "$work/a" \
        --autocrypt "$work/js6.cert"
}

# --- mutt: composing interactively (batch mode never signs or encrypts), and in batch mode -------
make_mutt() {
    have mutt || { missing mutt "mutt not found (Debian: mutt)"; return; }
    have gpg || { missing mutt "gpg not found: mutt signs and encrypts through GPGME"; return; }
    version mutt "$(mutt -v | head -1)"
    local h=$work/mutt u=mutt@reporter.example
    gpg_user "$h" "Mutt Reporter" "$u"
    # GPGME offers only valid keys without asking: the project key is trusted ultimately here.
    echo "$DEMO_FPR:6:" | gpg --homedir "$h" --batch --quiet --import-ownertrust 2>>"$work/gpg.log"
    local fpr
    fpr=$(G "$h" --with-colons --list-secret-keys "$u" | awk -F: '/^fpr/ { print $10; exit }')
    G "$h" --armor --export-secret-keys "$u" >"$work/mutt.key"
    KEY=$work/mutt.key
    cat >"$work/sendmail" <<EOF
#!/bin/sh
cat >"\$MUTT_OUT"
EOF
    chmod +x "$work/sendmail"
    cat >"$work/muttrc" <<EOF
set folder="$work" spoolfile=/dev/null record="" postpone=no copy=no
set from="Mutt Reporter <$u>" use_from=yes hostname=reporter.example
set sendmail="$work/sendmail"
set charset=utf-8 send_charset=utf-8
set editor=true autoedit=yes edit_headers=yes abort_unmodified=no
set crypt_use_gpgme=yes pgp_default_key=$fpr pgp_sign_as=$fpr pgp_self_encrypt=no
set crypt_autosign=yes crypt_autoencrypt=yes crypt_protected_headers_write=yes
EOF
    local name opts gpgrc=/etc/Muttrc.d/gpg.rc
    [[ -e $gpgrc ]] || gpgrc=/usr/share/doc/mutt/examples/gpg.rc
    for name in mutt-pgpmime mutt-inline; do
        opts=()
        # Inline PGP is the classic backend's (GPGME has none): Debian's gpg.rc commands.
        [[ $name == mutt-inline ]] && opts=(-e "source $gpgrc" -e "set crypt_use_gpgme=no"
            -e "set pgp_autoinline=yes crypt_protected_headers_write=no")
        text "$name" >"$work/body"
        GNUPGHOME=$h MUTT_OUT=$out/$name.eml HOME=$work \
            "$PY" "$here/ptydrive.py" 30 "Mutt: Compose" y -- \
            mutt -n -F "$work/muttrc" "${opts[@]}" -s "Overflow in the header parser" \
            -i "$work/body" "$TO"
        keep_key "$name"
    done
    # And batch mode as scripts use it (never signed or encrypted there): a German report in
    # the clear, mutt choosing the charset as by default (the first of $send_charset that
    # holds the text: ISO-8859-1).
    printf 'Bericht mutt-batch: Überlauf im Parser, größer als 70000 Bytes.\n' |
        GNUPGHOME=$h MUTT_OUT=$out/mutt-batch.eml HOME=$work LC_ALL=C.UTF-8 \
            mutt -n -F "$work/muttrc" -e 'set send_charset="us-ascii:iso-8859-1:utf-8"' \
            -s "Überlauf im Parser" -- "$TO"
}

# --- Plain mail in legacy charsets: s-nail and Python's email package ---------------------------
CHARSETS=(iso-2022-jp shift_jis euc-jp euc-kr gb18030 big5 koi8-r windows-1251 windows-1252)

make_snail() {
    have s-nail || { missing snail "s-nail not found (Debian: s-nail)"; return; }
    version snail "$(s-nail -V 2>&1 | head -1)"
    cat >"$work/snail-mta" <<'EOF'
#!/bin/sh
cat >"$SNAIL_OUT"
EOF
    chmod +x "$work/snail-mta"
    local cs lines
    for cs in "${CHARSETS[@]}"; do
        mapfile -t lines < <("${MIME[@]}" legacy "$cs")
        # s-nail converts from the terminal's charset (UTF-8) to the first of sendcharsets;
        # SOURCE_DATE_EPOCH fixes its Date and Message-ID (2026-11-25 09:46:40 UTC).
        printf '%s\n' "${lines[0]}" |
            SNAIL_OUT=$out/snail-$cs.eml SOURCE_DATE_EPOCH=1795600000 LC_ALL=C.UTF-8 \
                s-nail -:/ -S v15-compat -S ttycharset=utf-8 -S sendcharsets="$cs" \
                -S mta="$work/snail-mta" -S hostname=reporter.example \
                -r "${lines[2]} <snail@reporter.example>" -s "${lines[1]}" "$TO"
    done
}

make_python() {
    version python "$("$PY" --version) email package"
    local cs
    for cs in "${CHARSETS[@]}"; do
        "${MIME[@]}" charset "python-$cs" "$cs" >"$out/python-$cs.eml"
    done
}

# Each producer in turn, its run time in OUT_DIR/times (seconds), for the suite's budget.
for p in gpg sq sqop rnp gosop pgpainless pgpy openpgpjs mutt snail python; do
    start=$(date +%s%N)
    KEY=
    "make_$p"
    printf '%s\t%s\n' "$p" "$((($(date +%s%N) - start) / 1000000))e-3" >>"$out/times"
done
touch "$out/versions" "$out/missing"
