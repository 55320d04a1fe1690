import { lookup } from 'node:dns/promises';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { checkPins, spkiSha256, trustedCas } from '../connection';
import { codeOf, hintFor, messageOf, type HintContext } from './hints';
import { fail, pass, type StepResult } from './steps';

/** Where the gateway is, from MCP_TUNNEL_URL. */
export interface GatewayTarget extends HintContext {
  url: URL;
  secure: boolean;
}

/** The URL's host and port (brackets of an IPv6 literal removed; the scheme's default port). */
export function targetOf(url: string, tunnelId: string, caFile: string | null): GatewayTarget {
  const u = new URL(url);
  const secure = u.protocol === 'wss:';
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { url: u, secure, host, port: u.port === '' ? (secure ? 443 : 80) : Number(u.port), tunnelId, caFile };
}

/** Step `dns`: the addresses the host resolves to (an IP literal needs no lookup). */
export async function checkDns(t: GatewayTarget): Promise<{ result: StepResult; address: string | null }> {
  if (isIP(t.host) !== 0) return { result: pass('dns', `${t.host} is an IP address (no lookup)`), address: t.host };
  try {
    const found = await lookup(t.host, { all: true });
    const first = found[0];
    if (first === undefined) return { result: fail('dns', `${t.host} resolved to no address`, hintFor({ code: 'ENOTFOUND' }, t)), address: null };
    return { result: pass('dns', `${t.host} → ${found.map((a) => a.address).join(', ')}`), address: first.address };
  } catch (err) {
    return { result: fail('dns', `${t.host}: ${codeOf(err) || messageOf(err)}`, hintFor(err, t)), address: null };
  }
}

/** Runs `open` and settles on its first `ready` event, error or timeout; the socket is always destroyed. */
function probe<S extends Socket>(open: () => S, ready: string, timeoutMs: number, onReady: (s: S) => void = () => undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const s = open();
    s.setTimeout(timeoutMs, () => s.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })));
    s.once(ready, () => {
      try {
        onReady(s);
        resolve();
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      } finally {
        s.destroy();
      }
    });
    s.once('error', reject);
  });
}

/** Step `tcp`: a TCP connection to the resolved address and the URL's port. */
export async function checkTcp(t: GatewayTarget, address: string, timeoutMs: number): Promise<StepResult> {
  const started = Date.now();
  try {
    await probe(() => netConnect({ host: address, port: t.port }), 'connect', timeoutMs);
    return pass('tcp', `connected to ${address}:${t.port} in ${Date.now() - started} ms`);
  } catch (err) {
    return fail('tcp', `${address}:${t.port}: ${codeOf(err) || messageOf(err)}`, hintFor(err, t));
  }
}

/** Step `tls` (wss:// only): the chain against the system CAs plus MCP_TUNNEL_CA_FILE, the host name, the pins. */
export async function checkTls(t: GatewayTarget, address: string, pins: readonly string[], timeoutMs: number): Promise<StepResult> {
  let cert: PeerCertificate | null = null;
  try {
    const ca = trustedCas(t.caFile);
    await probe<TLSSocket>(
      () =>
        tlsConnect({
          host: address,
          port: t.port,
          ...(isIP(t.host) === 0 ? { servername: t.host } : {}),
          ...(ca ? { ca } : {}),
          rejectUnauthorized: true,
          checkServerIdentity: (_h, c) => checkServerIdentity(t.host, c),
        }),
      'secureConnect',
      timeoutMs,
      (s) => {
        cert = s.getPeerCertificate();
        const mismatch = checkPins(pins, cert);
        if (mismatch !== null) throw mismatch;
      },
    );
  } catch (err) {
    return fail('tls', `${codeOf(err) || 'TLS'}: ${messageOf(err)}`, hintFor(err, t));
  }
  const c = cert as PeerCertificate | null;
  const cn = (name: Record<string, string | string[]> | undefined): string => [name?.CN ?? '?'].flat().join(', ');
  const subject = cn(c?.subject as Record<string, string | string[]> | undefined);
  const issuer = cn(c?.issuer as Record<string, string | string[]> | undefined);
  const spki = c?.raw ? spkiSha256(c.raw) : '?';
  const pinText = pins.length === 0 ? 'no pins set' : 'pin matches';
  return pass('tls', `certificate CN=${subject} issued by CN=${issuer}, valid until ${c?.valid_to ?? '?'}; ${pinText} (spki ${spki})`);
}
