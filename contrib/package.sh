#!/usr/bin/env bash
# contrib/package.sh — builds the Debian package (cargo-deb, Cargo.toml [package.metadata.deb])
# and runs every `cargo deny check`, advisories included (that needs the RustSec database from
# the network). Not part of contrib/test.sh: the release build alone takes longer than CI's
# budget allows on two cores; the test suite builds the same package from its debug binary
# (tests/it/package.rs) and checks licences, bans and sources.
#
#   bash contrib/package.sh                 # release build -> target/debian/secmail_*.deb
#   bash contrib/package.sh --no-deny       # the package only
#   bash contrib/package.sh --binary PATH --target-dir DIR [--fast]
#                                           # package an existing binary, staged under DIR
#                                           # (what the test does; --fast: lighter compression)
# The .deb's path is the last line printed.
#
# The man pages and completions are made by the binary being packaged (`secmail generate`,
# hidden), so they describe exactly that binary. Installs cargo-deb (and cargo-deny) when
# missing, and dpkg-dev (dpkg-shlibdeps: the package's library dependencies) as root.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=""
target_dir=""
deny=yes
fast=()
while (($#)); do
    case "$1" in
    --binary) binary=$2 && shift 2 ;;
    --target-dir) target_dir=$2 && shift 2 ;;
    --no-deny) deny="" && shift ;;
    --fast) fast=(--fast) && shift ;;
    *) echo "usage: $0 [--no-deny] [--binary PATH --target-dir DIR [--fast]]" >&2 && exit 64 ;;
    esac
done

PACKAGES=(dpkg-dev)
# shellcheck source=contrib/deps.sh
source contrib/deps.sh
install_missing
ensure_cargo_deb

if [[ -z $binary ]]; then
    target_dir=${CARGO_TARGET_DIR:-target}
    cargo build --release --locked
    binary=$target_dir/release/secmail
else
    [[ -n $target_dir ]] || { echo "$0: --binary needs --target-dir" >&2 && exit 64; }
    mkdir -p "$target_dir/release"
    install -m 0755 "$binary" "$target_dir/release/secmail"
    binary=$target_dir/release/secmail
fi

# The assets [package.metadata.deb] names under target/release/ besides the binary.
stage=$target_dir/release
rm -rf "$stage/man" "$stage/completions"
mkdir -p "$stage/completions"
"$binary" generate man "$stage/man" >/dev/null
# Compressed, as Debian policy wants them (cargo-deb compresses only assets it did not build).
gzip -9n "$stage"/man/*.1
"$binary" generate completions bash >"$stage/completions/secmail.bash"
"$binary" generate completions zsh >"$stage/completions/_secmail"
"$binary" generate completions fish >"$stage/completions/secmail.fish"

# --no-build: the binary is the one staged above, not one cargo-deb would build.
mkdir -p "$target_dir/debian"
deb=$(CARGO_TARGET_DIR=$target_dir cargo deb --locked --no-build --quiet "${fast[@]}" --output "$target_dir/debian/")
if [[ -n $deny ]]; then
    ensure_cargo_deny
    deny_check
    if [[ ${DENY_ADVISORIES:-} == unchecked ]]; then
        echo "contrib/package.sh: advisories NOT checked: the RustSec database could not be fetched" >&2
        echo "  (the package is built: $deb; --no-deny skips the dependency checks)" >&2
        exit 1
    fi
fi
echo "$deb"
