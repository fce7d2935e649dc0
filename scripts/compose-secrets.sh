#!/bin/sh
# Creates the secret files compose.yaml mounts as Docker secrets. The directory is yours only
# (0700); the files are 0644 because Compose bind-mounts them as they are, and the services read
# them as their own users (postgres, redis, node), not as root.
# Existing files are kept: run it again safely. Rotate a secret by deleting its file first.
set -eu
cd "$(dirname "$0")/.."
umask 077
mkdir -p secrets
new() { [ -s "secrets/$1" ] || { shift; "$@" > "secrets/$name"; }; }
name=postgres_password; new "$name" openssl rand -hex 24
name=redis_password; new "$name" openssl rand -hex 24
name=jwt-signing-key.pem; new "$name" openssl genpkey -algorithm ed25519
# Empty unless a key rotation is under way (README "Rotating the signing key"), or until a
# resource server gets introspection credentials (client_id:secret per line).
touch secrets/jwt-verification-keys.pem secrets/introspection-clients
name=totp_encryption_key; new "$name" openssl rand -base64 32
# The URLs carry the passwords above (twofold reads DATABASE_URL_FILE and REDIS_URL_FILE).
printf 'postgresql://twofold:%s@postgres:5432/twofold\n' "$(cat secrets/postgres_password)" > secrets/database_url
printf 'redis://:%s@redis:6379\n' "$(cat secrets/redis_password)" > secrets/redis_url
chmod 700 secrets
chmod 644 secrets/*
echo "secrets in ./secrets: $(ls secrets | tr '\n' ' ')"
