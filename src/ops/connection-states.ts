/**
 * States of a tunnel connection as counted by `mcp_tunnel_connections`. Its own file so that the
 * request path can name them without loading prom-client (issue 10: prom-client only with an ops
 * listener, decisions.md D34).
 */
export const CONNECTION_STATES = ['connecting', 'authenticated', 'draining'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];
