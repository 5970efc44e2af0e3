#!/usr/bin/env bash
# Builds the legacy rust-libp2p SECIO peer and prints the binary's absolute path as the last
# stdout line (cargo's progress goes to stderr). Works from any cwd; cheap when up to date.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Own target dir whatever the caller's CARGO_TARGET_DIR says: this tree shares nothing
# with p2psec's build. --locked: the lockfile pins yanked crates that a fresh resolve
# could not pick again (see README.md).
unset CARGO_TARGET_DIR
cargo build --locked --release \
    --manifest-path "$here/Cargo.toml" \
    --target-dir "$here/target" >&2

bin="$here/target/release/secio-peer"
test -x "$bin" || { echo "build.sh: $bin missing after build" >&2; exit 1; }
echo "$bin"
