# syntax=docker/dockerfile:1
# mcp-tunnel: the proxy image by default (it only dials out, so there is no EXPOSE).
# Run the gateway from the same image with: docker run … mcp-tunnel gateway --config /etc/mcp-tunnel/gateway.json
# (set "listen": {"host": "0.0.0.0"} in that file: the default 127.0.0.1 is unreachable from outside a container).
#
# Node 24 is a Long-Term-Support line in support until 2028-04-30 (Node 20 reached end of life on
# 2026-04-30; 22 ends 2027-04-30). Debian 13 "trixie" slim base.
ARG NODE_IMAGE=node:24-trixie-slim

# Production dependencies only. The optional unix-dgram addon (sd_notify, systemd only) needs a C++
# toolchain, which the slim image lacks: npm skips it, and nothing in a container needs it.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.types.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="mcp-tunnel" \
      org.opencontainers.image.description="Reach MCP servers inside a private network from a hosted MCP gateway over an outbound-only tunnel" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/mcp-tunnel/mcp-tunnel" \
      org.opencontainers.image.documentation="https://github.com/mcp-tunnel/mcp-tunnel/blob/main/docs/operations.md"
ENV NODE_ENV=production \
    # glibc's allocator: buffers up to 1 MiB from the heap, and up to 16 MiB of free heap kept
    # instead of handed back and faulted in again for the next body (docs/operations.md "Memory
    # allocator", decisions.md D92; the same values as the systemd units and src/bench/shipped-env.ts).
    MALLOC_MMAP_THRESHOLD_=1048576 \
    MALLOC_TRIM_THRESHOLD_=16777216 \
    # The ops listener on the container's own loopback: the HEALTHCHECK below reads /readyz there;
    # nothing outside the container can reach it. Set 0.0.0.0:9464 for Kubernetes probes.
    MCP_TUNNEL_OPS_LISTEN=127.0.0.1:9464
WORKDIR /app
# The image's files belong to root and are read-only for the runtime user; nothing is written at run
# time (logs and audit go to stdout), so the container runs with a read-only root filesystem.
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
COPY --chown=0:0 package.json LICENSE ./
COPY --chown=0:0 config ./config
# Numeric, so that Kubernetes' runAsNonRoot can verify it without /etc/passwd (1000 = the image's "node").
USER 1000:1000
# `mcp-tunnel health` asks /readyz on MCP_TUNNEL_OPS_LISTEN: exit 0 ready, 1 not (no curl in the image).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/app/dist/cli/main.js", "health"]
# The CLI handles SIGTERM/SIGINT itself (drain, then exit 0), so it runs as PID 1 without an init;
# it starts no child processes, so there is nothing to reap.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["proxy"]
