import { TunnelError } from '../errors';

/** The demo could not start everything, or its call through the tunnel failed. */
export const DEMO_FAILED = 'TUNNEL_DEMO_FAILED';

/** Raised by `runDemo`; `cause` holds the underlying failure. Everything started is closed first. */
export class DemoError extends TunnelError {
  constructor(message: string, cause?: unknown) {
    super(DEMO_FAILED, message, { cause, retryable: false });
    this.name = 'DemoError';
  }
}
