import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createSecureContext } from 'node:tls';
import { spkiSha256 } from '../connection';
import { TunnelError, describeError } from '../errors';
import { certificateExpiry, concernsWatchedFile } from '../config';
import { F, type Logger } from '../log';

/** Paths of the gateway's PEM certificate chain and private key (`tls.cert`, `tls.key`). */
export interface TlsFiles {
  cert: string;
  key: string;
}

/** The contents of a certificate/key pair that `createSecureContext` accepted. */
export interface TlsPair {
  cert: Buffer;
  key: Buffer;
}

/** Default quiet period after the last file event before the pair is re-read. */
export const DEFAULT_TLS_RELOAD_DEBOUNCE_MS = 200;

/**
 * Reads `files` and checks that they form a usable pair (PEM parses, the key matches the
 * certificate) by building a secure context from them.
 * @throws TunnelError `TUNNEL_GATEWAY_TLS_INVALID` naming the problem (never the key's contents).
 */
export function loadTlsPair(files: TlsFiles): TlsPair {
  let pair: TlsPair;
  try {
    pair = { cert: fs.readFileSync(files.cert), key: fs.readFileSync(files.key) };
  } catch (err) {
    throw new TunnelError('TUNNEL_GATEWAY_TLS_INVALID', `TLS certificate or key cannot be read: ${describeError(err)}`, { cause: err });
  }
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (err) {
    // OpenSSL's messages ("key values mismatch", "no start line") name the problem, not the key.
    throw new TunnelError('TUNNEL_GATEWAY_TLS_INVALID', `TLS certificate ${files.cert} and key ${files.key} are not a usable pair: ${describeError(err)}`, { cause: err });
  }
  return pair;
}

/** Log fields describing the leaf certificate of a pair: what operators check after a renewal. */
export function describeCertificate(cert: Buffer): Record<string, unknown> {
  try {
    const x = new X509Certificate(cert);
    return { subject: x.subject.replace(/\n/g, ', '), notAfter: x.validTo, expired: Date.parse(x.validTo) < Date.now(), spkiSha256: spkiSha256(x.raw) };
  } catch (err) {
    return { certificate: `unparsable: ${describeError(err)}` };
  }
}

/**
 * Warns when the certificate is expired (`TUNNEL_GATEWAY_TLS_EXPIRED`) or ends within
 * EXPIRY_WARNING_DAYS (`TUNNEL_GATEWAY_TLS_EXPIRING`); on load and on every reload. Silent otherwise.
 */
export function warnIfExpiring(logger: Logger, cert: Buffer, file: string): void {
  const expiry = certificateExpiry(cert);
  if (expiry === null || !expiry.warn) return;
  const fields = { notAfter: expiry.notAfter, daysLeft: expiry.daysLeft, cert: file };
  if (expiry.expired) {
    logger.warn({ [F.code]: 'TUNNEL_GATEWAY_TLS_EXPIRED', ...fields, [F.hint]: 'clients and proxies refuse an expired certificate: renew it (the gateway installs the new files without a restart)' }, 'the TLS certificate has expired');
  } else {
    logger.warn({ [F.code]: 'TUNNEL_GATEWAY_TLS_EXPIRING', ...fields, [F.hint]: `renew it within ${expiry.daysLeft} days (the gateway installs the new files without a restart)` }, 'the TLS certificate expires soon');
  }
}

export interface TlsReloaderOptions {
  files: TlsFiles;
  /** The pair the server runs with now; a change event that leaves the files identical is ignored. */
  current: TlsPair;
  /** Installs a validated new pair (`server.setSecureContext`); may throw, which is logged. */
  apply: (pair: TlsPair) => void;
  logger: Logger;
  debounceMs?: number;
  /** `fs.watch` (injectable for tests). */
  watch?: (dir: string, options: { persistent: boolean }, listener: (event: string, filename: string | Buffer | null) => void) => Pick<fs.FSWatcher, 'close' | 'on'>;
}

/** Stops a TLS reloader. */
export interface TlsReloader {
  close(): void;
}

/**
 * Watches the folders holding `tls.cert` and `tls.key` and installs the pair again whenever it
 * changes: certificate renewal without a restart. Folders rather than files, because certbot and
 * Kubernetes replace files by renaming (or swapping a symlinked folder), which a watch on the old
 * inode would never see. Any event in a folder starts a debounce; then both files are read, and a
 * pair that differs from the current one is validated (`loadTlsPair`) and applied. A bad pair is
 * logged at error (`TUNNEL_GATEWAY_TLS_RELOAD_FAILED`) and the current one stays in force. New TLS
 * connections get the new certificate; established ones keep theirs.
 */
export function watchTlsFiles(opts: TlsReloaderOptions): TlsReloader {
  const debounceMs = opts.debounceMs ?? DEFAULT_TLS_RELOAD_DEBOUNCE_MS;
  let current = opts.current;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const reload = (): void => {
    timer = undefined;
    if (closed) return;
    let next: TlsPair;
    try {
      next = loadTlsPair(opts.files);
    } catch (err) {
      opts.logger.error({ [F.code]: 'TUNNEL_GATEWAY_TLS_RELOAD_FAILED', [F.err]: describeError(err), cert: opts.files.cert, key: opts.files.key }, 'TLS certificate files changed but cannot be used; keeping the current certificate');
      return;
    }
    if (next.cert.equals(current.cert) && next.key.equals(current.key)) return;
    try {
      opts.apply(next);
    } catch (err) {
      opts.logger.error({ [F.code]: 'TUNNEL_GATEWAY_TLS_RELOAD_FAILED', [F.err]: describeError(err) }, 'TLS certificate could not be installed; keeping the current certificate');
      return;
    }
    current = next;
    const info = describeCertificate(next.cert);
    opts.logger.info({ ...info, cert: opts.files.cert }, 'TLS certificate reloaded; new connections use it');
    warnIfExpiring(opts.logger, next.cert, opts.files.cert);
  };

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(reload, debounceMs);
  };

  const dirs = [...new Set([opts.files.cert, opts.files.key].map((f) => path.dirname(path.resolve(f))))];
  const names = [opts.files.cert, opts.files.key].map((f) => path.basename(f));
  const onChange = (_event: string, filename: string | Buffer | null): void => {
    if (concernsWatchedFile(names, filename)) schedule();
  };
  const watch = opts.watch ?? ((dir: string, options: { persistent: boolean }, listener: typeof onChange) => fs.watch(dir, options, listener));
  const watchers: Array<Pick<fs.FSWatcher, 'close' | 'on'>> = [];
  for (const dir of dirs) {
    try {
      // Not persistent: the server keeps the process alive; a watcher alone never should.
      const w = watch(dir, { persistent: false }, onChange);
      w.on('error', (err) => opts.logger.error({ [F.code]: 'TUNNEL_GATEWAY_TLS_WATCH_FAILED', [F.err]: describeError(err), dir }, 'watching the TLS certificate folder failed; renewals need a restart'));
      watchers.push(w);
    } catch (err) {
      opts.logger.error({ [F.code]: 'TUNNEL_GATEWAY_TLS_WATCH_FAILED', [F.err]: describeError(err), dir }, 'cannot watch the TLS certificate folder; renewals need a restart');
    }
  }
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
