import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ChannelBindingType } from '../protocol';

/** RFC 9266 §2: the exporter label of the `tls-exporter` channel binding. */
export const TLS_EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
/** RFC 9266 §2: the exporter output length, in bytes. */
export const TLS_EXPORTER_LENGTH = 32;

/**
 * The `tls-exporter` channel binding of a TLS connection (RFC 9266): 32 bytes of keying material
 * exported with the label `EXPORTER-Channel-Binding` and no context, base64url without padding.
 * Both ends of one TLS session compute the same value; two different sessions (a relay in between)
 * never do. Call only after the TLS handshake completed.
 */
export function tlsExporterBinding(socket: TLSSocket): string {
  // No context argument (docs/protocol.md §3). Under TLS 1.3 "no context" and "empty context"
  // give the same output, so other implementations that pass an empty context interoperate.
  // @types/node declares `context` required although Node documents it as optional.
  const exportWithoutContext = socket.exportKeyingMaterial.bind(socket) as (length: number, label: string) => Buffer;
  return exportWithoutContext(TLS_EXPORTER_LENGTH, TLS_EXPORTER_LABEL).toString('base64url');
}

/**
 * A short tag of a channel binding value (8 hex digits of its SHA-256), which the gateway puts into
 * its 4401 close reason: the proxy compares it with its own value's tag to tell a wrong secret
 * (same TLS session) from a proof bound to another TLS session (TLS ends at something in between).
 * It reveals nothing: SHA-256 of 32 random bytes, cut short, about a session both ends share.
 */
export function bindingTag(channelBinding: string): string {
  return createHash('sha256').update(channelBinding).digest('hex').slice(0, 8);
}

/** Finds the tag in a 4401 close reason (`… (gateway TLS session <tag>)`), or null. */
export function bindingTagIn(reason: string): string | null {
  return /gateway TLS session ([0-9a-f]{8})/.exec(reason)?.[1] ?? null;
}

/** What the gateway announces and puts into the proof for one accepted connection. */
export interface GatewayChannelBinding {
  binding: ChannelBindingType;
  /** base64url tls-exporter value, or '' for `none`. */
  channelBinding: string;
}

/**
 * The gateway side: `tls-exporter` with this connection's exporter value when the gateway itself
 * terminated TLS on `socket` (it is a TLSSocket), else `none` and ''.
 */
export function gatewayChannelBinding(socket: Socket): GatewayChannelBinding {
  return socket instanceof TLSSocket ? { binding: 'tls-exporter', channelBinding: tlsExporterBinding(socket) } : { binding: 'none', channelBinding: '' };
}

/** The proxy's decision on a gateway's `hello.binding`: the value for the proof, or why it refuses. */
export type ProxyBindingDecision = { ok: true; channelBinding: string } | { ok: false; code: string; reason: string };

/**
 * The proxy side. `announced` is `hello.binding` (absent = `none`), `tlsExporter` this connection's
 * exporter value (null when the connection is not TLS). Refusals are permanent configuration or
 * deployment problems:
 * - `TUNNEL_CHANNEL_BINDING_UNAVAILABLE`: the gateway bound the handshake to *its* TLS session but
 *   ours is not TLS, so something in between terminated TLS (the proof could never match);
 * - `TUNNEL_CHANNEL_BINDING_REQUIRED`: `none` over TLS while `requireChannelBinding` is set;
 * - `TUNNEL_CHANNEL_BINDING_UNSUPPORTED`: a binding type this proxy does not know.
 */
export function proxyChannelBinding(announced: string | undefined, tlsExporter: string | null, requireChannelBinding: boolean): ProxyBindingDecision {
  const binding = announced ?? 'none';
  if (binding === 'tls-exporter') {
    if (tlsExporter !== null) return { ok: true, channelBinding: tlsExporter };
    return {
      ok: false,
      code: 'TUNNEL_CHANNEL_BINDING_UNAVAILABLE',
      reason:
        'the gateway binds the handshake to its TLS session (tls-exporter), but this connection is not TLS: ' +
        'something between proxy and gateway terminates TLS; connect with wss:// straight to the gateway',
    };
  }
  if (binding === 'none') {
    if (!requireChannelBinding || tlsExporter === null) return { ok: true, channelBinding: '' };
    return {
      ok: false,
      code: 'TUNNEL_CHANNEL_BINDING_REQUIRED',
      reason:
        'the gateway does not bind the handshake to the TLS session (binding "none": TLS is terminated in front of it) ' +
        'and MCP_TUNNEL_REQUIRE_CHANNEL_BINDING is set',
    };
  }
  return { ok: false, code: 'TUNNEL_CHANNEL_BINDING_UNSUPPORTED', reason: `the gateway asks for channel binding ${JSON.stringify(binding.slice(0, 64))}, which this proxy does not support` };
}
