#!/bin/sh
# Stand-in for Prisma's native schema engine, for `prisma generate` only (see prisma-generate.mjs).
# Migrations go through `npm run db:migrate`, which needs no engine at all.
echo "twofold: no Prisma schema engine here; use 'npm run db:migrate' for migrations" >&2
exit 1
