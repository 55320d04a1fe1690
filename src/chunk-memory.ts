/**
 * Whether keeping a reference to `chunk` would keep alive memory more than twice its size: its
 * parent ArrayBuffer, e.g. a socket read or a mux message holding many frames. The one rule for
 * every holder of forwarded chunks that decides between a reference and a copy: the audit's body
 * digest (src/gateway/body/digest.ts, D74) and the recorder's inline writer (`keptChunk` in
 * src/replay/recorder.ts, D71).
 */
export function pinsMore(chunk: Uint8Array): boolean {
  return chunk.buffer.byteLength > 2 * chunk.byteLength;
}
