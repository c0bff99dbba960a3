# syntax=docker/dockerfile:1
# Multi-stage build: compile TypeScript with dev dependencies, ship only runtime ones.
# Secrets are never baked in: pass them at run time (env or *_FILE with Docker/Kubernetes secrets).

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY packages/client ./packages/client
COPY src ./src
RUN npm ci --no-audit --no-fund

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile names the client workspace, which stream-token-service/client re-exports.
COPY --from=build /app/packages/client/package.json ./packages/client/
COPY --from=build /app/packages/client/dist ./packages/client/dist
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY .env.example ./
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM from the orchestrator: /readyz fails, serving goes on for SHUTDOWN_DELAY_SECONDS, then in-flight
# requests drain within SHUTDOWN_GRACE_SECONDS. Give the container longer than both (docs/deploy.md).
STOPSIGNAL SIGTERM
CMD ["node", "dist/cli/main.js", "serve"]
