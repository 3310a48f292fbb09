#!/usr/bin/env bash
# contrib/deps.sh — sourced by demo.sh and test.sh: installs the Debian packages named in
# PACKAGES when they are missing (as root), or says what to install (as anyone else).

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_missing() {
    if ! command -v dpkg-query >/dev/null; then
        echo "secmail: not a Debian-like system; install by hand: ${PACKAGES[*]}" >&2
        return 0
    fi
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        installed "$p" || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "secmail: missing packages: ${missing[*]}" >&2
        echo "install them as root:" >&2
        echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "secmail: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Installing postfix asks what kind of mail system this is: a test machine is local only.
    printf '%s\n' \
        "postfix postfix/main_mailer_type select Local only" \
        "postfix postfix/mailname string localhost" | debconf-set-selections
    # Package scripts must not start the system's own dovecot and postfix: the tests start
    # private instances. Keep the image's policy-rc.d; lend one only if there is none.
    local lent_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        lent_policy=yes
    fi
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
    if [[ -n $lent_policy ]]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}

