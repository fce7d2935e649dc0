#!/usr/bin/env bash
# Prints the bin directory of an official Node.js release, fetched once from the npm registry
# (the node-linux-<arch> packages carry the nodejs.org binary) into a cache:
#   PATH="$(scripts/use-node.sh 24.22.3):$PATH"
# For machines whose system Node is older than the project supports (Debian's, CI images).
set -euo pipefail
version=${1:?usage: scripts/use-node.sh <version>}
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "no node-linux package for $(uname -m): install Node.js $version yourself" >&2; exit 1 ;;
esac
cache=${TWOFOLD_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/twofold/node}/$version
bin=$cache/node_modules/node-linux-$arch/bin
if [ ! -x "$bin/node" ] || [ "$("$bin/node" -v)" != "v$version" ]; then
  npm install --prefix "$cache" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$version" >&2
fi
[ "$("$bin/node" -v)" = "v$version" ] || { echo "node-linux-$arch@$version did not give a working node $version" >&2; exit 1; }
echo "$bin"
