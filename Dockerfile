# voice-bridge: multi-stage build on Node 24 slim. docs/deploy-docker.md explains how to run it.
#
# Stage 1 compiles TypeScript with the dev dependencies; stage 2 carries only the production
# dependencies and dist/. The process runs as the image's unprivileged `node` user and is started
# with `node` itself (not npm), so SIGTERM reaches it directly and it drains live calls.
#
# Both `npm ci` calls pass --ignore-scripts: package.json's `prepare` script (which builds on a
# plain `npm ci` of a clone) would run before the sources are copied in stage 1, and would find
# no TypeScript in stage 2. No dependency has an install script of its own
# (test/ops/deploy-files.test.ts checks package-lock.json), so nothing else is skipped.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:24-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The operator console's files (served as they are at /console/ while API_TOKEN is set).
COPY public ./public
# Call records (SQLite, CALLS_DB=./data/calls.db by default): the one directory the app writes,
# owned by its user; compose.yaml mounts a volume on it. Unused with DATABASE_URL (PostgreSQL).
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3000
# Liveness only (/healthz): a draining instance is alive and must not be restarted mid-drain.
# The slim image has no curl; Node's fetch does the request.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM starts the drain (DRAIN_TIMEOUT_SECONDS, default 600 s): give the container a stop
# timeout longer than that (compose.yaml: stop_grace_period; docker stop -t 660).
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
