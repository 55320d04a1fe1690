import { isIP } from 'node:net';
import { OPS_CODES, OpsError } from './errors';

/** Where the ops listener binds, parsed from `HOST:PORT`. */
export interface OpsListenAddress {
  /** An IP literal (IPv6 without brackets) or `localhost`. */
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
}

/** The ops listener's default address (`ops.listen`, `--ops-listen`): loopback only. */
export const DEFAULT_OPS_LISTEN = '127.0.0.1:9464';

/**
 * Parses `HOST:PORT` as given to `--ops-listen`, `MCP_TUNNEL_OPS_LISTEN` or `ops.listen`.
 * HOST is an IPv4 literal, a bracketed IPv6 literal (`[::1]:9464`) or `localhost`; names are refused
 * so that what the listener binds is exactly what the operator wrote (no resolver in between).
 * @throws OpsError `TUNNEL_OPS_LISTEN_INVALID`
 */
export function parseOpsListen(value: string): OpsListenAddress {
  const bad = (why: string): OpsError =>
    new OpsError(OPS_CODES.listenInvalid, `ops listen address ${JSON.stringify(value)} is invalid: ${why} (expected HOST:PORT, e.g. ${DEFAULT_OPS_LISTEN})`);
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^[\]:]+)):(\d{1,5})$/.exec(value);
  if (!m) throw bad('not HOST:PORT');
  const host = (m[1] ?? m[2])!;
  const port = Number(m[3]);
  if (port > 65535) throw bad('port above 65535');
  if (m[1] !== undefined ? isIP(host) !== 6 : host !== 'localhost' && isIP(host) !== 4) {
    throw bad('HOST must be an IP address or localhost');
  }
  return { host, port };
}
