/**
 * What to do about each failure `mcp-tunnel doctor` can meet, keyed by the error's code (Node's
 * `err.code`, OpenSSL's verify codes, the project's `TUNNEL_*` codes). One place, so that every step
 * words the same cause the same way.
 */

/** Node/OpenSSL codes of a certificate no trusted CA signed. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

export interface HintContext {
  host: string;
  port: number;
  tunnelId: string;
  caFile: string | null;
}

/** The error's code, or '' (a string property `code`, as Node, OpenSSL and TunnelError set it). */
export function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** One line for the error: its message without a stack, cut to a readable length. */
export function messageOf(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n', 1)[0]!.slice(0, 300);
}

/** A plain-HTTP (or other non-TLS) server answered the TLS ClientHello. */
export function isPlainPort(err: unknown): boolean {
  const code = codeOf(err);
  return code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || /wrong version number|packet length too long|unknown protocol/i.test(messageOf(err));
}

/** The hint for a network, TLS, upgrade or handshake failure; undefined when there is nothing better than the message. */
export function hintFor(err: unknown, c: HintContext): string | undefined {
  const code = codeOf(err);
  if (code === 'ENOTFOUND') return `DNS failure: "${c.host}" does not resolve from here; check the host in MCP_TUNNEL_URL and this host's resolver`;
  if (code === 'EAI_AGAIN') return 'DNS failure: the resolver did not answer; check /etc/resolv.conf or the cluster DNS';
  if (code === 'ECONNREFUSED') return `connection refused: nothing listens on ${c.host}:${c.port}; is the gateway running, and is the port in MCP_TUNNEL_URL right?`;
  if (code === 'ETIMEDOUT' || code === 'TIMEOUT') return `no answer from ${c.host}:${c.port}: a firewall may be dropping the packets, or the port is wrong`;
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `no route to ${c.host}: check the network path (proxy, VPN, egress rules)`;
  if (code === 'ECONNRESET') return 'the connection was reset: something between here and the gateway (a proxy, a load balancer) closed it';
  if (isPlainPort(err)) return `${c.host}:${c.port} answered in plain HTTP, not TLS: use ws:// for a plain port, or the gateway's TLS port for wss://`;
  if (UNTRUSTED.has(code)) {
    return c.caFile === null
      ? "the gateway's certificate is not signed by a CA this machine trusts: set MCP_TUNNEL_CA_FILE to the PEM file of the CA that signed it"
      : `the gateway's certificate is not signed by the CA in MCP_TUNNEL_CA_FILE (${c.caFile}) nor a system CA: point MCP_TUNNEL_CA_FILE at the CA that signed it`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the certificate does not name "${c.host}": use a host name the certificate lists in MCP_TUNNEL_URL, or reissue the certificate`;
  if (code === 'CERT_HAS_EXPIRED') return "the gateway's certificate has expired: renew it on the gateway (it reloads without a restart)";
  if (code === 'CERT_NOT_YET_VALID') return "the gateway's certificate is not valid yet: check both machines' clocks";
  if (code === 'TUNNEL_PIN_MISMATCH') return "the gateway's public key matches no MCP_TUNNEL_PIN_SHA256 pin: add the new key's pin (docs/operations.md, pin rollover) or fix the list";
  if (code === 'TUNNEL_UNKNOWN_TUNNEL') return `the gateway has no tunnel "${c.tunnelId}": check the id at the end of MCP_TUNNEL_URL (/tunnel/{id}) against the gateway's tunnels[]`;
  if (code === 'TUNNEL_TOO_MANY_CONNECTIONS') return 'the gateway refused the connection for its connection limits (HTTP 429); wait, or raise limits.* on the gateway';
  if (code === 'TUNNEL_DIAL_REJECTED') return "the URL does not lead to a gateway's tunnel endpoint: it should be wss://HOST[:PORT]/tunnel/{id}";
  if (code === 'TUNNEL_AUTH_FAILED') return `wrong secret: the gateway does not accept this secret for tunnel "${c.tunnelId}"; compare MCP_TUNNEL_SECRET_FILE with the gateway's tunnels[].secrets`;
  if (code === 'TUNNEL_UNSUPPORTED_VERSION') return 'the gateway and this proxy share no protocol version: upgrade the older one';
  if (code === 'TUNNEL_HANDSHAKE_TIMEOUT') return 'the gateway did not complete the handshake in time: is something between them buffering WebSocket frames?';
  if (code === 'TUNNEL_CHANNEL_BINDING_REQUIRED' || code === 'TUNNEL_CHANNEL_BINDING_UNAVAILABLE') {
    return 'TLS is terminated before the gateway (a load balancer or an intercepting proxy): use TCP passthrough, or unset MCP_TUNNEL_REQUIRE_CHANNEL_BINDING';
  }
  return undefined;
}

/** The hint for an upstream reachability failure (dispatch's `TUNNEL_UPSTREAM_*` codes). */
export function upstreamHint(err: unknown, url: string): string | undefined {
  const code = codeOf(err);
  if (code === 'TUNNEL_UPSTREAM_FORBIDDEN') return `MCP_TUNNEL_ALLOW does not allow ${url}: add a rule for it (docs/operations.md, egress allowlist)`;
  if (code === 'TUNNEL_UPSTREAM_TIMEOUT') return 'the server did not answer in time: is it overloaded, or is a firewall dropping packets?';
  if (code === 'TUNNEL_UPSTREAM_TLS_CONFIG') return 'the upstream TLS settings are unusable: check MCP_TUNNEL_UPSTREAM_CA_FILE / upstream.tls';
  if (code === 'TUNNEL_UPSTREAM_BAD_URL') return 'give the server as NAME=http(s)://HOST:PORT/PATH';
  if (code === 'TUNNEL_UPSTREAM_UNREACHABLE') return 'nothing answers there (refused, no route or DNS failure): is the MCP server running, and is the URL the one the gateway has in servers[]?';
  return undefined;
}
