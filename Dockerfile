# syntax=docker/dockerfile:1
# Quench: multi-stage build on Node 22 LTS. The final image holds production dependencies
# only, runs as the unprivileged `node` user and checks /healthz.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs the root postinstall, which patches postgres.js (scripts/patch-postgres.mjs).
COPY scripts/patch-postgres.mjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/patch-postgres.mjs ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund && node scripts/patch-postgres.mjs --check && npm cache clean --force

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    PORT=3000 \
    QUENCH_DATA_DIR=/data \
    QUENCH_SLO_DIR=/app/slo \
    QUENCH_PLAYBOOK_DIR=/app/playbooks \
    QUENCH_DRILL_DIR=/app/drills
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root bin ./bin
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root slo ./slo
COPY --chown=root:root playbooks ./playbooks
COPY --chown=root:root drills ./drills
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/quench.js"]
CMD ["serve"]
