import { hash, randomBytes } from 'node:crypto';

/**
 * The hash chain of an audit trail (docs/audit.md "Hash chain"): every line an audit destination writes
 * is sealed with `chain`, `seq`, `prev` and `hash`, and a signed checkpoint line is added now and
 * then. This module holds the format (canonical bytes, hashing, signing input) shared by the writer
 * (`AuditChain`) and the verifier (verify.ts).
 */

/** `prev` of the first record of a chain: 64 zeros. */
export const GENESIS_PREV = '0'.repeat(64);

/** Names of the fields the chain adds to a record; `type`/`alg`/`keyId`/`sig` only on checkpoints. */
export const CHAIN_FIELDS = {
  chain: 'chain',
  seq: 'seq',
  prev: 'prev',
  hash: 'hash',
  type: 'type',
  alg: 'alg',
  keyId: 'keyId',
  sig: 'sig',
} as const;

/** `type` of a checkpoint record. */
export const CHECKPOINT_TYPE = 'checkpoint';
/** `msg` of a checkpoint record. */
export const CHECKPOINT_MSG = 'audit checkpoint';

/** Signature algorithms of checkpoints. */
export type CheckpointAlg = 'hmac-sha256' | 'ed25519';

/** Signs checkpoints (see keys.ts for the HMAC and Ed25519 implementations). */
export interface CheckpointSigner {
  readonly alg: CheckpointAlg;
  /** Identifies the key without revealing it: 16 hex digits. */
  readonly keyId: string;
  /** Signature of `data`, base64. */
  sign(data: Buffer): string;
}

/**
 * RFC 8785 (JCS) canonical JSON of a value parsed from JSON: object members sorted by key (UTF-16
 * code units, as `Array.prototype.sort` compares), no whitespace, strings and numbers serialised
 * as ECMAScript `JSON.stringify` does. Array order is kept.
 *
 * @throws TypeError for values JSON cannot hold (undefined, functions, non-finite numbers, bigint).
 */
export function canonicalJson(value: unknown): string {
  return canonical(value, null);
}

/** {@link canonicalJson}, leaving out the top-level members named in `skip` (no copy of the object). */
function canonical(value: unknown, skip: readonly string[] | null): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number');
      return JSON.stringify(value);
    case 'object': {
      // Loops and concatenation rather than map/join: this runs for every audit record (issue 10).
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonical(value[i], null);
        return `${out}]`;
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        if (skip !== null && skip.includes(k)) continue;
        out += `${first ? '' : ','}${JSON.stringify(k)}:${canonical(obj[k], null)}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot serialise a ${typeof value}`);
  }
}

const HASH_AND_SIG: readonly string[] = [CHAIN_FIELDS.hash, CHAIN_FIELDS.sig];

/** `hash` of a record: lower-case hex SHA-256 of the canonical JSON of the record without `hash`. */
export function recordHash(record: Readonly<Record<string, unknown>>): string {
  // One-shot `crypto.hash`: no Hash stream object per record (D74).
  return hash('sha256', canonicalRecord(record, CHAIN_FIELDS.hash), 'hex');
}

/**
 * {@link canonicalJson} of a record parsed from JSON, without its top-level member `skip` (D81). The
 * same bytes, about 40 % cheaper for the audit records written and verified: the top level's sorted
 * member order and each member's `"key":` prefix are worked out once per record shape (the records
 * of one process have a handful of shapes) instead of sorting and escaping the keys every time.
 * Values take the recursive form (strings directly), so it refuses what JSON cannot hold exactly
 * as {@link canonicalJson} does.
 */
export function canonicalRecord(record: Readonly<Record<string, unknown>>, skip: string): string {
  const plan = planFor(Object.keys(record), skip);
  let out = '';
  for (let i = 0; i < plan.keys.length; i++) {
    const v = record[plan.keys[i]!];
    // Strings (most values) directly; anything else through `canonical`, which refuses what JSON cannot hold.
    out += plan.prefixes[i]! + (typeof v === 'string' ? JSON.stringify(v) : canonical(v, null));
  }
  return out === '' ? '{}' : `${out}}`;
}

/** The top-level order of one record shape: its keys sorted (without the skipped one), each with `{"k":` or `,"k":`. */
interface ShapePlan {
  readonly shape: readonly string[];
  readonly skip: string;
  readonly keys: readonly string[];
  readonly prefixes: readonly string[];
}

const PLAN_CACHE_SIZE = 8;
const planCache: ShapePlan[] = [];
let planNext = 0;

function planFor(shape: readonly string[], skip: string): ShapePlan {
  for (const plan of planCache) if (plan.skip === skip && sameKeys(plan.shape, shape)) return plan;
  const keys = shape.filter((k) => k !== skip).sort();
  const plan: ShapePlan = { shape, skip, keys, prefixes: keys.map((k, i) => `${i === 0 ? '{' : ','}${JSON.stringify(k)}:`) };
  planCache[planNext] = plan;
  planNext = (planNext + 1) % PLAN_CACHE_SIZE;
  return plan;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** What a checkpoint's `sig` signs: the canonical JSON of the record without `hash` and `sig`. */
export function checkpointSigningInput(record: Readonly<Record<string, unknown>>): Buffer {
  return Buffer.from(canonical(record, HASH_AND_SIG), 'utf8');
}

/** A new chain id: 16 random hex digits. */
export function newChainId(): string {
  return randomBytes(8).toString('hex');
}

export interface AuditChainOptions {
  /** Default: a random id (`newChainId`). */
  id?: string;
  /** Signs checkpoints; null or absent: no checkpoints. */
  signer?: CheckpointSigner | null;
  /** A checkpoint follows every this many records (0 = only by time and on close). Default 1000. */
  every?: number;
  /** Time of checkpoint records; injected for tests. Default `() => new Date()`. */
  now?: () => Date;
  /** `pid` written on checkpoint records. Default `process.pid`. */
  pid?: number;
}

/**
 * The writer's side of one chain. Not thread-safe by design: one chain has exactly one writer (an
 * audit destination, destination.ts), so the order of `seal` calls is the order in the file.
 *
 * `seal` runs where pino hands the destination a line: it receives each serialised line and returns it with the
 * chain fields appended (and, every `every` records, a checkpoint line after it). `checkpoint()`
 * makes a checkpoint line on demand (interval timer, close). Across a reopened file the state
 * simply continues: the first line of the new file links to the last of the old one.
 */
export class AuditChain {
  readonly id: string;
  readonly #signer: CheckpointSigner | null;
  readonly #every: number;
  readonly #now: () => Date;
  readonly #pid: number;
  #seq = 0;
  #prev = GENESIS_PREV;
  /** Records (not checkpoints) sealed since the last checkpoint. */
  #unsigned = 0;
  /** `"chain":"<id>"`, the first member every sealed line gets. */
  readonly #chainMember: string;

  constructor(options: AuditChainOptions = {}) {
    this.id = options.id ?? newChainId();
    this.#chainMember = member(CHAIN_FIELDS.chain, this.id);
    this.#signer = options.signer ?? null;
    this.#every = options.every ?? 1000;
    this.#now = options.now ?? ((): Date => new Date());
    this.#pid = options.pid ?? process.pid;
  }

  /** `seq` of the last sealed line (0 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** `hash` of the last sealed line (`GENESIS_PREV` before the first). */
  get lastHash(): string {
    return this.#prev;
  }

  /** Whether checkpoints are signed and written. */
  get signing(): boolean {
    return this.#signer !== null;
  }

  /**
   * Seals one serialised JSON line (with or without its trailing newline). A line that is not a
   * JSON object is returned unchanged and does not advance the chain (verify then reports it).
   *
   * @throws never for a JSON object line; rethrows a signer failure.
   */
  seal(line: string): string {
    let record: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(line);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line;
      record = parsed as Record<string, unknown>;
    } catch {
      return line;
    }
    return this.sealParsed(line, record);
  }

  /**
   * {@link seal} for a line whose parse the caller already holds (the destination's fast path,
   * fast-line.ts): `record` must be exactly what `JSON.parse(line)` returns. It is modified (the
   * chain fields are added to it).
   */
  sealParsed(line: string, record: Record<string, unknown>): string {
    const isCheckpoint = record[CHAIN_FIELDS.type] === CHECKPOINT_TYPE;
    let out = this.#sealRecord(line, record);
    if (!isCheckpoint) {
      this.#unsigned++;
      if (this.#signer !== null && this.#every > 0 && this.#unsigned >= this.#every) out += this.#checkpointLine();
    }
    return out;
  }

  /**
   * A sealed, signed checkpoint line covering every line so far, or null when checkpoints are off
   * or no record was written since the last checkpoint.
   */
  checkpoint(): string | null {
    if (this.#signer === null || this.#unsigned === 0) return null;
    return this.#checkpointLine();
  }

  #checkpointLine(): string {
    this.#unsigned = 0;
    const head = {
      level: 30,
      time: this.#now().toISOString(),
      audit: true,
      pid: this.#pid,
      [CHAIN_FIELDS.type]: CHECKPOINT_TYPE,
      msg: CHECKPOINT_MSG,
    };
    const line = `${JSON.stringify(head)}\n`;
    return this.#sealRecord(line, { ...head });
  }

  /** Appends chain, seq, prev (sig on a checkpoint) and hash; keeps the writer's bytes before them. */
  #sealRecord(line: string, record: Record<string, unknown>): string {
    const signer = record[CHAIN_FIELDS.type] === CHECKPOINT_TYPE ? this.#signer : null;
    // A record that already has one of our members (however its line spells the key) is rewritten
    // whole below, since a duplicate key would make the bytes ambiguous to readers.
    const clash = (signer !== null ? SIGNED_FIELDS : SEAL_FIELDS).some((k) => Object.hasOwn(record, k));
    const seq = this.#seq + 1;
    const prev = this.#prev;
    record[CHAIN_FIELDS.chain] = this.id;
    record[CHAIN_FIELDS.seq] = seq;
    record[CHAIN_FIELDS.prev] = prev;
    let signature = '';
    if (signer !== null) {
      // Whatever a caller put there, a checkpoint names the key that signed it.
      record[CHAIN_FIELDS.alg] = signer.alg;
      record[CHAIN_FIELDS.keyId] = signer.keyId;
      delete record[CHAIN_FIELDS.sig];
      const sig = signer.sign(checkpointSigningInput(record));
      record[CHAIN_FIELDS.sig] = sig;
      signature = `,${member(CHAIN_FIELDS.alg, signer.alg)},${member(CHAIN_FIELDS.keyId, signer.keyId)},${member(CHAIN_FIELDS.sig, sig)}`;
    }
    const hash = recordHash(record);
    this.#seq = seq;
    this.#prev = hash;

    const end = line.endsWith('\n') ? line.length - 1 : line.length;
    const close = line.lastIndexOf('}', end - 1);
    // Appending keeps pino's field order; an odd shape is rewritten whole too.
    if (clash || close !== end - 1) return `${JSON.stringify({ ...record, [CHAIN_FIELDS.hash]: hash })}\n`;
    // `prev` and `hash` are hex digests: no escaping needed.
    const tail = `${this.#chainMember},${SEQ_KEY}${seq},${PREV_KEY}"${prev}"${signature},${HASH_KEY}"${hash}"`;
    return `${line.slice(0, close)}${close > 1 ? ',' : ''}${tail}}\n`;
  }
}

/** The members `#sealRecord` adds to a record, and to a signed checkpoint. */
const SEAL_FIELDS: readonly string[] = [CHAIN_FIELDS.chain, CHAIN_FIELDS.seq, CHAIN_FIELDS.prev, CHAIN_FIELDS.hash];
const SIGNED_FIELDS: readonly string[] = [...SEAL_FIELDS, CHAIN_FIELDS.alg, CHAIN_FIELDS.keyId, CHAIN_FIELDS.sig];
const SEQ_KEY = `${JSON.stringify(CHAIN_FIELDS.seq)}:`;
const PREV_KEY = `${JSON.stringify(CHAIN_FIELDS.prev)}:`;
const HASH_KEY = `${JSON.stringify(CHAIN_FIELDS.hash)}:`;

const member = (k: string, v: unknown): string => `${JSON.stringify(k)}:${JSON.stringify(v)}`;
