import { createHash, hash, type Hash } from 'node:crypto';
import { BodyCapture, type BodyCaptureConfig, type GatewayAuditRecord, type RequestAudit } from '../../audit';
import { pinsMore } from '../../chunk-memory';

const EMPTY = Buffer.alloc(0);

/**
 * A first chunk is kept until the body ends: by reference when it owns most of its memory (forwarded
 * chunks are never written to afterwards: D71), else copied when it is at most this size, so a small
 * body never pins a large batch buffer (one mux message holds many frames), else hashed at once.
 */
const KEEP_COPY_BYTES = 16 * 1024;

/** Which body a digest covers: the audit record names its fields after it. */
export type BodyDirection = 'request' | 'response';

/**
 * The audit's view of one body, the same for both directions: a SHA-256 of every byte forwarded and,
 * when `audit.bodies` is on, the bounded capture. It sees each chunk as it is forwarded and changes
 * nothing; {@link BodyDigest.record} writes `requestSha256`/`requestBody` or
 * `responseSha256`/`responseBody` once the body is complete.
 */
export class BodyDigest {
  /**
   * Most MCP bodies arrive in one chunk: that chunk is kept and hashed in one shot at the end, and a
   * Hash (a stream object with its own OpenSSL context) is created only for a second chunk (D74).
   */
  #first: Buffer | null = null;
  #hash: Hash | null = null;
  readonly #capture: BodyCapture | null;
  #recorded = false;

  constructor(
    readonly direction: BodyDirection,
    capture: BodyCaptureConfig | null | undefined,
  ) {
    this.#capture = capture ? new BodyCapture(capture) : null;
  }

  /** Adds a chunk that was (or is about to be) forwarded. */
  update(chunk: Buffer): void {
    if (this.#hash !== null) this.#hash.update(chunk);
    else if (this.#first !== null) {
      this.#hash = createHash('sha256').update(this.#first).update(chunk);
      this.#first = null;
    } else if (pinsMore(chunk) && chunk.length > KEEP_COPY_BYTES) this.#hash = createHash('sha256').update(chunk);
    else this.#first = pinsMore(chunk) ? Buffer.from(chunk) : chunk;
    this.#capture?.push(chunk);
  }

  /** Writes the digest (and capture) into the record; only the first call counts. */
  record(audit: RequestAudit<GatewayAuditRecord>, contentType: string | undefined): void {
    if (this.#recorded) return;
    this.#recorded = true;
    const sha256 = this.#hash !== null ? this.#hash.digest('hex') : hash('sha256', this.#first ?? EMPTY, 'hex');
    this.#first = null;
    const body = this.#capture?.result(contentType);
    if (this.direction === 'request') audit.annotate({ requestSha256: sha256, ...(this.#capture ? { requestBody: body } : {}) });
    else audit.annotate({ responseSha256: sha256, ...(this.#capture ? { responseBody: body } : {}) });
  }
}
