import * as fs from 'node:fs';
import { TunnelError } from '../errors';
import { CHAIN_FIELDS, CHECKPOINT_TYPE, GENESIS_PREV, checkpointSigningInput, recordHash } from './chain';
import { AUDIT_ERROR, AUDIT_VERIFY, type AuditVerifyCode } from './errors';
import type { CheckpointVerifier } from './keys';
import { lfLines } from './lf-lines';

/** Where a line is: file name as given, 1-based line number. */
export interface LinePosition {
  file: string;
  line: number;
}

/** The first problem found in a trail. */
export interface VerifyProblem extends LinePosition {
  code: AuditVerifyCode;
  /** Chain id of the record, when it has one. */
  chain: string | null;
  /** `seq` of the record, when it has one. */
  seq: number | null;
  /** One line for humans: what is wrong, at which seq and line. */
  message: string;
}

/** One chain found in the trail (a writer: one process lifetime of one audit logger). */
export interface ChainSummary {
  chain: string;
  firstSeq: number;
  lastSeq: number;
  /** Chained lines of this chain, checkpoints included. */
  records: number;
  checkpoints: number;
  /** `prev` of the first record when the chain starts after seq 1 (an older file holds the rest). */
  linkedPrev: string | null;
  /** Records after the last checkpoint of this chain (covered by the hash chain only). */
  unsignedTail: number;
}

export interface VerifyResult {
  ok: boolean;
  problem: VerifyProblem | null;
  /** Chained lines checked (checkpoints included). */
  records: number;
  /** Checkpoints whose signature was verified with the given key. */
  checkpointsVerified: number;
  /** Checkpoints seen without a key to verify them. */
  checkpointsUnverified: number;
  /** Lines that are not audit records (operational logs sharing the stream). */
  skippedLines: number;
  chains: ChainSummary[];
}

export interface VerifyOptions {
  /** Checks checkpoint signatures; absent: checkpoints are counted but not verified. */
  verifier?: CheckpointVerifier | null;
}

interface ChainState extends ChainSummary {
  lastHash: string;
  lastAt: LinePosition;
}

/** A seq gap being classified: missing records, or records that show up later (reordered). */
interface PendingGap {
  chain: string;
  /** The last good record before the gap. */
  lastSeq: number;
  lastAt: LinePosition;
  /** The record after the gap. */
  seq: number;
  at: LinePosition;
}

const HEX64 = /^[0-9a-f]{64}$/;

function where(at: LinePosition): string {
  return `line ${at.line} of ${at.file}`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a trail line by line in constant memory (one state per chain id). Feed every line of
 * every file in order with `push`, then call `finish`. Lines without `"audit": true` are skipped
 * (operational logs may share the stream). Stops checking at the first problem; after a seq gap it
 * keeps reading only to tell deleted records from reordered ones.
 */
export class TrailVerifier {
  readonly #verifier: CheckpointVerifier | null;
  readonly #chains = new Map<string, ChainState>();
  #problem: VerifyProblem | null = null;
  #gap: PendingGap | null = null;
  #records = 0;
  #verified = 0;
  #unverified = 0;
  #skipped = 0;

  constructor(options: VerifyOptions = {}) {
    this.#verifier = options.verifier ?? null;
  }

  /** Whether checking is over (a problem was found; `push` is then a no-op). */
  get done(): boolean {
    return this.#problem !== null;
  }

  /** Checks one line; `lastOfFile` marks the last line of a file (a damaged one is a truncation). */
  push(text: string, at: LinePosition, lastOfFile = false): void {
    if (this.#problem !== null) return;
    if (text.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      if (this.#gap !== null) return;
      if (/"audit"\s*:\s*true/.test(text)) {
        const what = lastOfFile ? 'truncated audit record (the last line is incomplete)' : 'damaged audit record (not valid JSON)';
        this.#fail(AUDIT_VERIFY.recordDamaged, at, null, null, `${what} at ${where(at)}`);
      } else {
        this.#skipped++;
      }
      return;
    }
    if (!isRecord(parsed) || parsed.audit !== true) {
      if (this.#gap === null) this.#skipped++;
      return;
    }
    const record = parsed;
    const chain = record[CHAIN_FIELDS.chain];
    const seq = record[CHAIN_FIELDS.seq];
    const prev = record[CHAIN_FIELDS.prev];
    const hash = record[CHAIN_FIELDS.hash];

    if (this.#gap !== null) {
      this.#lookAhead(chain, seq, at);
      return;
    }
    if (typeof chain !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1 || typeof prev !== 'string' || !HEX64.test(prev) || typeof hash !== 'string') {
      this.#fail(AUDIT_VERIFY.recordDamaged, at, typeof chain === 'string' ? chain : null, typeof seq === 'number' ? seq : null, `audit record without valid chain fields (chain, seq, prev, hash) at ${where(at)}`);
      return;
    }
    if (recordHash(record) !== hash) {
      this.#fail(AUDIT_VERIFY.recordEdited, at, chain, seq, `edited record: hash mismatch at seq ${seq}, ${where(at)}`);
      return;
    }
    if (!this.#link(record, chain, seq, prev, hash, at)) return;
    if (record[CHAIN_FIELDS.type] === CHECKPOINT_TYPE) this.#checkpoint(record, chain, seq, at);
  }

  /** Links the record to its chain; false (and a problem) when it does not link. */
  #link(record: Record<string, unknown>, chain: string, seq: number, prev: string, hash: string, at: LinePosition): boolean {
    const state = this.#chains.get(chain);
    if (state === undefined) {
      if (seq === 1 && prev !== GENESIS_PREV) {
        this.#fail(AUDIT_VERIFY.recordInserted, at, chain, seq, `chain ${chain} seq 1 does not start from the genesis prev, ${where(at)}`);
        return false;
      }
      this.#chains.set(chain, {
        chain,
        firstSeq: seq,
        lastSeq: seq,
        records: 1,
        checkpoints: 0,
        linkedPrev: seq === 1 ? null : prev,
        unsignedTail: 0,
        lastHash: hash,
        lastAt: at,
      });
      this.#records++;
      this.#countTail(record, chain);
      return true;
    }
    const expected = state.lastSeq + 1;
    if (seq === expected && prev === state.lastHash) {
      state.lastSeq = seq;
      state.lastHash = hash;
      state.lastAt = at;
      state.records++;
      this.#records++;
      this.#countTail(record, chain);
      return true;
    }
    if (seq === expected) {
      this.#fail(
        AUDIT_VERIFY.recordInserted,
        at,
        chain,
        seq,
        `prev mismatch at seq ${seq}, ${where(at)}: it does not link to seq ${state.lastSeq} at ${where(state.lastAt)} (a record was inserted or replaced)`,
      );
    } else if (seq === state.lastSeq) {
      this.#fail(
        AUDIT_VERIFY.recordInserted,
        at,
        chain,
        seq,
        `duplicate seq ${seq} at ${where(state.lastAt)} and ${where(at)} (a record was inserted)`,
      );
    } else if (seq < state.lastSeq) {
      this.#fail(
        AUDIT_VERIFY.recordReordered,
        at,
        chain,
        seq,
        `records out of order: seq goes backwards from ${state.lastSeq} (${where(state.lastAt)}) to ${seq} (${where(at)})`,
      );
    } else {
      this.#gap = { chain, lastSeq: state.lastSeq, lastAt: state.lastAt, seq, at };
    }
    return false;
  }

  #countTail(record: Record<string, unknown>, chain: string): void {
    const state = this.#chains.get(chain);
    if (state === undefined) return;
    if (record[CHAIN_FIELDS.type] === CHECKPOINT_TYPE) state.unsignedTail = 0;
    else state.unsignedTail++;
  }

  #checkpoint(record: Record<string, unknown>, chain: string, seq: number, at: LinePosition): void {
    const state = this.#chains.get(chain);
    if (state !== undefined) state.checkpoints++;
    const verifier = this.#verifier;
    if (verifier === null) {
      this.#unverified++;
      return;
    }
    const alg = record[CHAIN_FIELDS.alg];
    const keyId = record[CHAIN_FIELDS.keyId];
    const sig = record[CHAIN_FIELDS.sig];
    if (alg !== verifier.alg || keyId !== verifier.keyId) {
      this.#fail(
        AUDIT_VERIFY.checkpointInvalid,
        at,
        chain,
        seq,
        `checkpoint at seq ${seq}, ${where(at)} is signed with ${String(alg)} key ${String(keyId)}, not the given ${verifier.alg} key ${verifier.keyId}`,
      );
      return;
    }
    if (typeof sig !== 'string' || !verifier.verify(checkpointSigningInput(record), sig)) {
      this.#fail(AUDIT_VERIFY.checkpointInvalid, at, chain, seq, `bad checkpoint signature at seq ${seq}, ${where(at)}`);
      return;
    }
    this.#verified++;
  }

  /** After a gap: does a record that belongs inside the gap turn up later? Then it is a reordering. */
  #lookAhead(chain: unknown, seq: unknown, at: LinePosition): void {
    const gap = this.#gap;
    if (gap === null || chain !== gap.chain || typeof seq !== 'number') return;
    if (seq > gap.lastSeq && seq < gap.seq) {
      this.#gap = null;
      this.#fail(
        AUDIT_VERIFY.recordReordered,
        gap.at,
        gap.chain,
        gap.seq,
        `records out of order: seq ${gap.seq} (${where(gap.at)}) comes before seq ${seq} (${where(at)})`,
      );
    }
  }

  /** Ends the check: the first problem, or the summary of an intact trail. */
  finish(): VerifyResult {
    const gap = this.#gap;
    if (gap !== null && this.#problem === null) {
      this.#gap = null;
      const missing = gap.seq - gap.lastSeq - 1;
      const range = missing === 1 ? `seq ${gap.lastSeq + 1} is` : `seq ${gap.lastSeq + 1}..${gap.seq - 1} are`;
      this.#fail(
        AUDIT_VERIFY.recordMissing,
        gap.at,
        gap.chain,
        gap.seq,
        `deleted record: seq gap ${gap.lastSeq}→${gap.seq} between ${where(gap.lastAt)} and ${where(gap.at)} (${range} missing)`,
      );
    }
    const chains = [...this.#chains.values()].map(
      ({ chain, firstSeq, lastSeq, records, checkpoints, linkedPrev, unsignedTail }): ChainSummary => ({
        chain,
        firstSeq,
        lastSeq,
        records,
        checkpoints,
        linkedPrev,
        unsignedTail,
      }),
    );
    return {
      ok: this.#problem === null,
      problem: this.#problem,
      records: this.#records,
      checkpointsVerified: this.#verified,
      checkpointsUnverified: this.#unverified,
      skippedLines: this.#skipped,
      chains,
    };
  }

  #fail(code: AuditVerifyCode, at: LinePosition, chain: string | null, seq: number | null, message: string): void {
    this.#problem ??= { code, file: at.file, line: at.line, chain, seq, message };
  }
}

/**
 * Verifies audit files as one trail, in the order given (oldest first: `audit.log.1 audit.log`).
 * Reads them line by line (split at LF only: lf-lines.ts), holding one line and one state per chain in memory.
 *
 * @throws TunnelError `TUNNEL_AUDIT_DESTINATION_FAILED` when a file cannot be read; every file is
 *   checked before the first is verified. Problems with the trail itself are in the result.
 */
export async function verifyAuditFiles(files: readonly string[], options: VerifyOptions = {}): Promise<VerifyResult> {
  for (const file of files) await checkReadable(file);
  const verifier = new TrailVerifier(options);
  for (const file of files) {
    await verifyFile(file, verifier);
    if (verifier.done) break;
  }
  return verifier.finish();
}

async function checkReadable(file: string): Promise<void> {
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    if (!(await fs.promises.stat(file)).isFile()) throw Object.assign(new Error('not a file'), { code: 'ENOTFILE' });
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TunnelError(AUDIT_ERROR.destinationFailed, `cannot read ${file} (${code})`, { cause: err });
  }
}

async function verifyFile(file: string, verifier: TrailVerifier): Promise<void> {
  const input = fs.createReadStream(file);
  // Held back one line so that the last line of the file is known when it is checked.
  let held: { text: string; line: number } | null = null;
  let n = 0;
  try {
    for await (const text of lfLines(input)) {
      n++;
      if (held !== null) verifier.push(held.text, { file, line: held.line });
      held = { text, line: n };
      if (verifier.done) break;
    }
    if (held !== null && !verifier.done) verifier.push(held.text, { file, line: held.line }, true);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TunnelError(AUDIT_ERROR.destinationFailed, `cannot read ${file} (${code})`, { cause: err });
  } finally {
    input.destroy();
  }
}

/** The report `mcp-tunnel audit verify` prints for a result: lines without trailing newlines. */
export function describeVerifyResult(result: VerifyResult, keyGiven: boolean): string[] {
  if (result.problem !== null) return [`${result.problem.code}: ${result.problem.message}`];
  const { chains } = result;
  const lines: string[] = [];
  const checkpoints = keyGiven
    ? `${result.checkpointsVerified} checkpoints verified`
    : `${result.checkpointsUnverified} checkpoints not verified (no --hmac-key-file / --public-key given)`;
  const only = chains.length === 1 ? chains[0] : undefined;
  if (chains.length === 0) {
    lines.push(`chain intact: 0 records (no audit records in the files; ${result.skippedLines} other lines skipped)`);
  } else if (only !== undefined) {
    lines.push(`chain intact: ${result.records} records, seq ${only.firstSeq}..${only.lastSeq}, ${checkpoints}`);
  } else {
    lines.push(`chain intact: ${result.records} records in ${chains.length} chains, ${checkpoints}`);
    for (const c of chains) {
      lines.push(`  chain ${c.chain}: seq ${c.firstSeq}..${c.lastSeq}, ${c.records} records, ${c.checkpoints} checkpoints`);
    }
  }
  for (const c of chains) {
    if (c.linkedPrev !== null) {
      lines.push(`chain ${c.chain} starts at seq ${c.firstSeq} linked to prev ${c.linkedPrev} (the records before it are in an older file)`);
    }
    if (keyGiven && c.unsignedTail > 0) {
      const n = c.unsignedTail === 1 ? 'last 1 record is' : `last ${c.unsignedTail} records are`;
      lines.push(`chain ${c.chain}: the ${n} after its last checkpoint (covered by the hash chain only)`);
    }
  }
  return lines;
}
