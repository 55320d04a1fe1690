import { TunnelError } from '../errors';

/**
 * The gateway closed an authenticated connection with 4401: its secret was revoked and the proxy
 * did not re-authenticate with a current one in time. Permanent until the secret changes.
 */
export class AuthRevokedError extends TunnelError {
  readonly permanent = true;
  readonly closeCode: number;
  constructor(closeCode: number, reason: string) {
    super('TUNNEL_AUTH_FAILED', `gateway ended the authenticated connection (${closeCode}${reason ? `: ${reason}` : ''}); the tunnel secret is no longer accepted`, {
      retryable: false,
    });
    this.name = 'AuthRevokedError';
    this.closeCode = closeCode;
  }
}
