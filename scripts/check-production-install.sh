#!/usr/bin/env bash
# Proves the production image's steps without a Docker engine: assembles the runtime with the
# Dockerfile's own script in an empty directory, starts the server from there as the image
# would (NODE_ENV=production, real PostgreSQL and Redis), and checks /readyz and a login.
set -euo pipefail
cd "$(dirname "$0")/.."
admin_url=${TEST_DATABASE_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
redis_url=${TEST_REDIS_URL:-redis://127.0.0.1:6379}
work=$(mktemp -d)
db=twofold_prodcheck_$$
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  psql "$admin_url" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

npm run -s build
scripts/install-runtime.sh . "$work/app" >/dev/null
if [ -d "$work/app/node_modules/typescript" ] || [ -d "$work/app/node_modules/tap" ] || [ -d "$work/app/node_modules/prisma" ]; then
  echo "dev dependencies leaked into the runtime install" >&2; exit 1
fi
psql "$admin_url" -qc "CREATE DATABASE $db"
db_url=$(node -e 'const u=new URL(process.argv[1]); u.pathname="/"+process.argv[2]; console.log(u.toString())' "$admin_url" "$db")
# The signing key as production gets it: a file (a container secret), as `openssl genpkey -algorithm ed25519` writes it.
node -e 'process.stdout.write(require("crypto").generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }))' > "$work/jwt-signing-key.pem"
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

metrics_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
# Secrets as compose.yaml passes them: files named by *_FILE (Docker secrets).
mkdir -p "$work/secrets"
printf '%s\n' "$db_url" > "$work/secrets/database_url"
head -c 32 /dev/urandom | base64 | tr -d '\n' > "$work/secrets/totp_encryption_key"

(cd "$work/app" && exec env -i PATH="$PATH" NODE_ENV=production HOST=127.0.0.1 PORT="$port" \
  DATABASE_URL_FILE="$work/secrets/database_url" REDIS_URL="$redis_url" REDIS_KEY_PREFIX="prodcheck-$$:" \
  JWT_SIGNING_KEY_FILE="$work/jwt-signing-key.pem" TOTP_ENCRYPTION_KEY_FILE="$work/secrets/totp_encryption_key" \
  METRICS_PORT="$metrics_port" BCRYPT_COST=10 LOG_LEVEL=warn \
  node dist/server.js) > "$work/server.log" 2>&1 &
pid=$!

base="http://127.0.0.1:$port"
for _ in $(seq 1 60); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$base/readyz" || { echo "server from the production install never became ready:" >&2; cat "$work/server.log" >&2; exit 1; }
echo
curl -fsS -XPOST "$base/users" -H 'content-type: application/json' -d '{"username":"prodcheck","password":"prodcheck-password"}' >/dev/null
curl -fsS -XPOST "$base/login" -H 'content-type: application/json' -d '{"username":"prodcheck","password":"prodcheck-password"}' | grep -q access_token
curl -fsS "$base/.well-known/jwks.json" | grep -q '"kty":"OKP"'
curl -fsS "$base/docs/" | grep -qi 'swagger' || curl -fsS -L "$base/docs" | grep -qi 'swagger'
curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q '^twofold_login_attempts_total{result="success",second_factor="none"} 1$' \
  || { echo "metrics listener did not count the login" >&2; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/metrics")" = 404 ] || { echo "/metrics on the public port" >&2; exit 1; }
kill -TERM "$pid"; wait "$pid"; status=$?; pid=
[ "$status" = 0 ] || { echo "server exited with $status after SIGTERM" >&2; cat "$work/server.log" >&2; exit 1; }
echo "production install: secrets from files, ready, register + login work, the JWKS is served, metrics on their own port, clean exit on SIGTERM"
