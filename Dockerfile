# syntax=docker/dockerfile:1
# mcp-tunnel: the proxy image by default (it only dials out, so there is no EXPOSE).
# Run the gateway from the same image with: docker run … mcp-tunnel gateway --config /etc/mcp-tunnel/gateway.json

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./package.json
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root config ./config
# The image's files belong to root and are read-only for the runtime user.
USER node
# The CLI handles SIGTERM/SIGINT itself (drain, then exit 0), so it can run as PID 1.
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["proxy"]
