# One image per app, from one build: `docker build --target api .` and `--target worker`.
# node:20-bookworm-slim (glibc) because sharp ships prebuilt libvips for it.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json tsconfig.json ./
COPY packages/schemas/package.json packages/schemas/
COPY packages/core/package.json packages/core/
COPY packages/client/package.json packages/client/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/stack/package.json apps/stack/
COPY apps/cli/package.json apps/cli/
COPY apps/console/package.json apps/console/
# bench is a workspace too: npm ci needs its package.json, and `npm run build` (turbo) builds it.
COPY bench/package.json bench/
# No install scripts are needed: sharp ships prebuilt binaries, and the packages with scripts
# (msgpackr-extract, @parcel/watcher, unrs-resolver) are optional helpers with fallbacks or dev-only.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY packages packages
COPY apps apps
COPY bench bench
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages packages
COPY --from=build /app/apps apps
# Results are shared by the API (serves them) and the workers (store them) through this volume.
RUN mkdir -p /data/results && chown -R node:node /data
VOLUME ["/data"]
USER node

FROM runtime AS api
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/api/dist/index.js"]

FROM runtime AS worker
EXPOSE 9091
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WORKER_METRICS_PORT||9091)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/worker/dist/index.js"]
