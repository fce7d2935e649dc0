# syntax=docker/dockerfile:1
# Production image: docker build -t twofold . (see README, "Production").
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
# postinstall generates the Prisma client offline (scripts/prisma-generate.mjs).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The reference UI (/ui/, off in production unless UI_ENABLED=true): built from ui/ against openapi/client.
COPY ui ./ui
COPY openapi ./openapi
RUN npm run build

# The same script CI runs in .ci/run (scripts/check-production-install.sh), so what is tested is
# what ships: production dependencies, the built output with its Prisma client, the migrations.
FROM build AS runtime-files
RUN scripts/install-runtime.sh /app /runtime

FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=runtime-files --chown=node:node /runtime /app
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, no shell: node is PID 1 and receives SIGTERM itself, drains in-flight requests and
# closes its clients. The server applies pending migrations before it listens
# (`docker run … node dist/cli/migrate.js` does only that).
CMD ["node", "--enable-source-maps", "dist/server.js"]
