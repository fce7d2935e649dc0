#!/bin/sh
# Assembles what the service needs at run time, and nothing else, from a built checkout:
#   scripts/install-runtime.sh <built checkout> <empty target dir>
# The Dockerfile's final stage is made by this script, and CI runs the same script and starts
# the server from its output (scripts/check-production-install.sh): a runtime import of a dev
# dependency or a file missing from the image fails there too.
set -eu
src=$(cd "$1" && pwd)
dest=$2
mkdir -p "$dest/prisma"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cp -R "$src/dist" "$dest/dist"
cp -R "$src/prisma/migrations" "$dest/prisma/migrations"
# Production dependencies only. @prisma/client lists the Prisma CLI and TypeScript as optional
# peers, which npm keeps unless optional packages are omitted too; the only other optional one
# is pg-cloudflare (Workers only). No install scripts: the Prisma client is already compiled
# into dist/generated, and bcrypt ships its prebuilt binary.
cd "$dest"
npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund
npm cache clean --force >/dev/null 2>&1 || true
