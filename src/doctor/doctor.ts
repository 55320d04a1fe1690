import { CONFIG_INVALID, SECRET_ENV, SECRET_FILE_ENV, type ProxyConfig } from '../config';
import { createUpstreamDispatcher } from '../dispatch';
import { hasCode } from '../errors';
import type { Logger } from '../log';
import { messageOf } from './hints';
import { checkDns, checkTcp, checkTls, targetOf } from './network-checks';
import { fail, notApplicable, pass, skip, type StepResult } from './steps';
import { checkTunnel, checkUpstream, type UpstreamTarget } from './tunnel-checks';

export interface DoctorOptions {
  /** Reads the proxy's configuration (the proxy's own loader, with the command's flags and env). */
  load: () => ProxyConfig;
  /** Servers to check reachability of (the proxy learns server URLs from the gateway, per request). */
  upstreams: readonly UpstreamTarget[];
  /** Per network step; default 5000 ms. */
  timeoutMs?: number;
  /** For the upstream dispatcher's own log lines (a silent one is fine). */
  logger: Logger;
}

/**
 * Checks a proxy's settings end to end, step by step: config, secret, DNS, TCP, TLS (wss://), the
 * WebSocket upgrade, a real handshake, and each upstream. A step whose prerequisite failed is
 * reported as skipped; the upstream checks depend on the configuration only. Never throws for a
 * problem it is meant to find.
 */
export async function runDoctor(o: DoctorOptions): Promise<StepResult[]> {
  const timeoutMs = o.timeoutMs ?? 5000;
  let config: ProxyConfig;
  try {
    config = o.load();
  } catch (err) {
    if (!hasCode(err, CONFIG_INVALID)) throw err;
    const hint = /secret/i.test(messageOf(err))
      ? `set ${SECRET_FILE_ENV} to a file holding the tunnel secret (at least 32 bytes: \`mcp-tunnel secret generate\`)`
      : 'see `mcp-tunnel proxy --help` for every setting and its environment variable';
    const later = ['secret', 'dns', 'tcp', 'tls', 'websocket', 'handshake', ...(o.upstreams.length === 0 ? [] : o.upstreams.map((u) => `upstream ${u.name}`))];
    return [fail('config', messageOf(err), hint), ...later.map((s) => skip(s, 'config'))];
  }
  const results: StepResult[] = [pass('config', `tunnel "${config.tunnelId}" at ${config.url}${config.caFile ? `, CA file ${config.caFile}` : ''}${config.pins.length > 0 ? `, ${config.pins.length} pin(s)` : ''}`)];
  const source = config.secretFile !== null ? `${SECRET_FILE_ENV}=${config.secretFile}` : `${SECRET_ENV} or the config file`;
  results.push(pass('secret', `${Buffer.byteLength(config.secret, 'utf8')} bytes, from ${source} (the value is never shown)`));
  results.push(...(await checkGatewayPath(config, timeoutMs)));
  results.push(...(await checkUpstreams(config, o, timeoutMs)));
  return results;
}

/** dns → tcp → tls → websocket → handshake, each skipped once one before it failed. */
async function checkGatewayPath(config: ProxyConfig, timeoutMs: number): Promise<StepResult[]> {
  const t = targetOf(config.url, config.tunnelId, config.caFile);
  const out: StepResult[] = [];
  const rest = (from: string, failed: string): StepResult[] => ['dns', 'tcp', 'tls', 'websocket', 'handshake'].slice(['dns', 'tcp', 'tls', 'websocket', 'handshake'].indexOf(from)).map((s) => skip(s, failed));
  const dns = await checkDns(t);
  out.push(dns.result);
  if (dns.address === null) return [...out, ...rest('tcp', 'dns')];
  const tcp = await checkTcp(t, dns.address, timeoutMs);
  out.push(tcp);
  if (tcp.status === 'fail') return [...out, ...rest('tls', 'tcp')];
  if (t.secure) {
    const tls = await checkTls(t, dns.address, config.pins, timeoutMs);
    out.push(tls);
    if (tls.status === 'fail') return [...out, ...rest('websocket', 'tls')];
  } else out.push(notApplicable('tls', 'ws:// — no TLS (clear text; only for loopback or with --allow-insecure)'));
  return [...out, ...(await checkTunnel(config, t, timeoutMs))];
}

async function checkUpstreams(config: ProxyConfig, o: DoctorOptions, timeoutMs: number): Promise<StepResult[]> {
  if (o.upstreams.length === 0) {
    return [notApplicable('upstream', 'none given: the gateway names server URLs per request; pass --upstream NAME=URL (its servers[] entries) to check them')];
  }
  const dispatcher = createUpstreamDispatcher(config.upstream, o.logger, { closeGraceMs: 0 });
  try {
    const out: StepResult[] = [];
    for (const u of o.upstreams) out.push(await checkUpstream(dispatcher, u, timeoutMs));
    return out;
  } finally {
    await dispatcher.close();
  }
}
