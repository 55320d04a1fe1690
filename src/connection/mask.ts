/**
 * WebSocket masking on the proxy's tunnel connection (decisions.md D54).
 *
 * RFC 6455 §5.3 masks client frames so that bytes a browser script chooses cannot appear verbatim on
 * the wire and be misread by a confused intermediary (cache poisoning, §10.3). The proxy is not a
 * browser, and where no intermediary can read the bytes - inside TLS (wss://), or on loopback - the
 * mask protects nothing but costs a copy and an XOR of every byte sent (ws masks into a new buffer).
 * `ws` skips both for an all-zero mask, which is still a valid mask, so the gateway needs no change.
 * Over plain ws:// to another host the random mask stays.
 */

/** Fills the mask with zeros: `ws` then sends the payload as it is. */
export function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/** True when masking the tunnel connection to `url` protects nothing: wss://, or a loopback host. */
export function maskingUseless(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol === 'wss:') return true;
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
