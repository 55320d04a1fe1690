import { MAX_STREAM_ID, ProtocolError } from '../protocol';
import { StreamRefusedError } from './errors';
import type { MuxStream } from './stream';

/**
 * The open streams of one connection and its stream-id bookkeeping: odd ids are opened by the
 * gateway, even ids by the proxy; ids only grow, so an id at or below the last one seen names a
 * stream that existed (late frames for it are dropped, not a protocol error).
 */
export class StreamTable {
  private readonly open = new Map<number, MuxStream>();
  private nextLocalId: number;
  /** Highest id the peer opened. */
  lastRemoteId = 0;

  constructor(private readonly role: 'gateway' | 'proxy') {
    this.nextLocalId = role === 'proxy' ? 2 : 1;
  }

  get size(): number {
    return this.open.size;
  }

  get(id: number): MuxStream | undefined {
    return this.open.get(id);
  }

  add(stream: MuxStream): void {
    this.open.set(stream.id, stream);
  }

  /** Forgets `stream` if it is still the one registered under its id. */
  remove(stream: MuxStream): void {
    if (this.open.get(stream.id) === stream) this.open.delete(stream.id);
  }

  /** Takes every open stream out of the table (the connection closed). */
  drainAll(): MuxStream[] {
    const all = [...this.open.values()];
    this.open.clear();
    return all;
  }

  /** @throws StreamRefusedError when ids are exhausted. */
  allocateLocalId(): number {
    const id = this.nextLocalId;
    if (id > MAX_STREAM_ID) throw new StreamRefusedError('stream ids exhausted on this connection');
    this.nextLocalId += 2;
    return id;
  }

  /**
   * Checks the id of a stream the peer opens: `new` (recorded), or `closed` (an old id: ignore).
   * @throws ProtocolError `TUNNEL_PROTOCOL_BAD_STREAM` for an id of the wrong parity.
   */
  acceptRemoteId(id: number): 'new' | 'closed' {
    if (id % 2 === 1 && id <= this.lastRemoteId) return 'closed';
    if (id % 2 !== 1) throw new ProtocolError('TUNNEL_PROTOCOL_BAD_STREAM', `stream id ${id} is not a new odd id`);
    this.lastRemoteId = id;
    return 'new';
  }

  /** True when `id` names a stream that was opened on this connection (by either side). */
  isKnown(id: number): boolean {
    const ownParity = this.role === 'gateway' ? 1 : 0;
    if (id % 2 === ownParity) return id < this.nextLocalId;
    return id <= this.lastRemoteId;
  }
}
