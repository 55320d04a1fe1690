import { createHash, type Hash } from 'node:crypto';
import { BodyCapture, type BodyCaptureConfig, type GatewayAuditRecord, type RequestAudit } from '../../audit';

/** Which body a digest covers: the audit record names its fields after it. */
export type BodyDirection = 'request' | 'response';

/**
 * The audit's view of one body, the same for both directions: a SHA-256 of every byte forwarded and,
 * when `audit.bodies` is on, the bounded capture. It sees each chunk as it is forwarded and changes
 * nothing; {@link BodyDigest.record} writes `requestSha256`/`requestBody` or
 * `responseSha256`/`responseBody` once the body is complete.
 */
export class BodyDigest {
  readonly #hash: Hash = createHash('sha256');
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
    this.#hash.update(chunk);
    this.#capture?.push(chunk);
  }

  /** Writes the digest (and capture) into the record; only the first call counts. */
  record(audit: RequestAudit<GatewayAuditRecord>, contentType: string | undefined): void {
    if (this.#recorded) return;
    this.#recorded = true;
    const sha256 = this.#hash.digest('hex');
    const body = this.#capture?.result(contentType);
    if (this.direction === 'request') audit.annotate({ requestSha256: sha256, ...(this.#capture ? { requestBody: body } : {}) });
    else audit.annotate({ responseSha256: sha256, ...(this.#capture ? { responseBody: body } : {}) });
  }
}
