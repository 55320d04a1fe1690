import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { McpRequestInspector, inspectorTap } from '../../../src/audit/inspector';

function collect(): { sink: Writable; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { sink, chunks };
}

interface LagReport {
  maxLag: number;
  maxHeld: number;
  output: Buffer;
}

/**
 * Pushes `count` chunks of `size` bytes from a source that produces only when asked, through
 * `stage`, into a consumer that takes a macrotask per chunk, and reports how far the producer got
 * ahead of the consumer and how many bytes `stage` held at most.
 */
async function runSlowConsumer(stage: Transform, count: number, size: number): Promise<LagReport> {
  let produced = 0;
  let consumed = 0;
  let maxLag = 0;
  let maxHeld = 0;
  const out: Buffer[] = [];
  const source = new Readable({
    highWaterMark: 1,
    read() {
      if (produced === count) {
        this.push(null);
        return;
      }
      produced++;
      this.push(Buffer.alloc(size, produced % 256));
    },
  });
  const sink = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      consumed++;
      out.push(chunk);
      maxLag = Math.max(maxLag, produced - consumed);
      maxHeld = Math.max(maxHeld, stage.writableLength + stage.readableLength);
      setImmediate(cb);
    },
  });
  await pipeline(source, stage, sink);
  return { maxLag, maxHeld, output: Buffer.concat(out) };
}

describe('inspectorTap', () => {
  it('passes every chunk through byte-identical (the same Buffer objects) and feeds the inspector', async () => {
    const body = Buffer.from(
      JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'fetch', arguments: { blob: randomBytes(3000).toString('base64') } } }),
    );
    const input = [body.subarray(0, 1), body.subarray(1, 700), body.subarray(700, 701), body.subarray(701)];
    const inspector = new McpRequestInspector();
    const { sink, chunks } = collect();
    await pipeline(Readable.from(input), inspectorTap(inspector), sink);

    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(chunks).toHaveLength(input.length);
    chunks.forEach((c, i) => expect(c).toBe(input[i]));
    expect(inspector.bytes).toBe(body.length);
    expect(inspector.finish()).toMatchObject({ kind: 'request', jsonrpcId: 5, tool: 'fetch', truncated: false, bytes: body.length });
  });

  it('passes a body larger than the limit through whole while keeping only the limit', async () => {
    const body = randomBytes(256 * 1024);
    const inspector = new McpRequestInspector(1024);
    const { sink, chunks } = collect();
    const input = Array.from({ length: 64 }, (_, i) => body.subarray(i * 4096, (i + 1) * 4096));
    await pipeline(Readable.from(input), inspectorTap(inspector), sink);
    expect(Buffer.concat(chunks).equals(body)).toBe(true);
    expect(inspector.finish()).toMatchObject({ truncated: true, bytes: body.length });
  });

  it('holds at most one chunk and lets a slow consumer slow the producer', async () => {
    const size = 1024;
    const count = 200;
    const inspector = new McpRequestInspector();
    const tapped = await runSlowConsumer(inspectorTap(inspector), count, size);

    expect(tapped.output).toHaveLength(count * size);
    expect(inspector.bytes).toBe(count * size);
    // One chunk may sit in the tap and one more in the source while the consumer works.
    expect(tapped.maxHeld).toBeLessThanOrEqual(size);
    expect(tapped.maxLag).toBeLessThanOrEqual(2);

    // The same measurement with a default PassThrough shows the producer running far ahead, so
    // the bound above is what the tap's settings buy, not an artefact of the harness.
    const control = await runSlowConsumer(new PassThrough(), count, size);
    expect(control.maxLag).toBeGreaterThan(10);
  });

  it('propagates an upstream error and leaves the inspector usable', async () => {
    const inspector = new McpRequestInspector();
    const source = new Readable({
      read() {
        this.push(Buffer.from('{"jsonrpc":"2.0","id":1,'));
        this.destroy(new Error('client went away'));
      },
    });
    const { sink } = collect();
    await expect(pipeline(source, inspectorTap(inspector), sink)).rejects.toThrow('client went away');
    expect(inspector.finish()).toMatchObject({ kind: 'invalid', truncated: false });
  });
});
