#!/usr/bin/env bash
# Installs the legacy js-libp2p 0.29 (SECIO) interop peer's npm packages, pinned
# by package-lock.json, into node_modules beside this script. Idempotent: skips
# `npm ci` when the stamp left by the last successful install matches the
# current lock, package.json and Node.js version. Works from any working
# directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in node npm; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "install.sh: '$tool' not found on PATH; the SECIO js-libp2p interop peer needs Node.js >= 20 and npm" >&2
        exit 1
    fi
done

node_version="$(node --version)"
node_major="${node_version#v}"
node_major="${node_major%%.*}"
if [ "$node_major" -lt 20 ]; then
    echo "install.sh: Node.js $node_version is too old; >= 20 is needed" >&2
    exit 1
fi

stamp="node_modules/.p2psec-install-stamp"
want="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1) node-$node_version"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "install.sh: node_modules is up to date"
    exit 0
fi

echo "install.sh: running npm ci in tests/interop/secio-js"
# --ignore-scripts: the only install scripts are native builds that are not
# needed. secp256k1 loads its bundled prebuild (or falls back to pure JS) at
# run time, and ursa-optional only speeds up RSA key generation in
# libp2p-crypto, which peer.js does with node:crypto instead. Skipping them
# means no compiler or Node headers are needed and nothing differs by machine.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
printf '%s\n' "$want" >"$stamp"
echo "install.sh: done"
