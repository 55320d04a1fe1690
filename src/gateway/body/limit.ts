import { GatewayError } from '../errors';

/**
 * `limits.maxRequestBodyBytes`, enforced in one way wherever the body is seen: the declared
 * `Content-Length` before anything is read, then every byte counted as it arrives (the inspected
 * part and the streamed rest alike). Crossing it answers 413 `TUNNEL_BODY_TOO_LARGE` before the
 * response started, or cuts the forwarded body after.
 */
export class BodyLimit {
  #seen = 0;

  constructor(readonly maxBytes: number) {}

  /** The 413 for a request whose `Content-Length` is already over the limit, else null. */
  checkDeclared(contentLength: string | undefined): GatewayError | null {
    const declared = Number(contentLength ?? 0);
    return declared > this.maxBytes ? this.tooLarge(`request body of ${declared} bytes exceeds the limit of ${this.maxBytes} bytes`) : null;
  }

  /** True once more than `maxBytes` were counted. */
  get exceeded(): boolean {
    return this.#seen > this.maxBytes;
  }

  /** Counts `n` more body bytes; false once the total is over the limit (those bytes must not be forwarded). */
  take(n: number): boolean {
    this.#seen += n;
    return this.#seen <= this.maxBytes;
  }

  /** The 413 for a body that grew past the limit. */
  tooLarge(message = `request body exceeds the limit of ${this.maxBytes} bytes`): GatewayError {
    return new GatewayError('TUNNEL_BODY_TOO_LARGE', message);
  }
}
