/**
 * The resume state machine against a model: an upstream event log, attempts that each deliver a
 * part of it in arbitrary chunks (optionally replaying events the client already has) and are cut
 * at an arbitrary byte, and resumption from `resumeFrom`. The client must get every event exactly
 * once and in order; `resumeFrom` must name exactly the last event the client has.
 */
import fc from 'fast-check';
import { SseCursor } from '../../../../src/gateway/resume';

interface ModelEvent {
  id: string | null;
  data: string;
}

type Eol = '\n' | '\r\n' | '\r';

function serialize(e: ModelEvent, eol: Eol): string {
  return `${e.id === null ? '' : `id: ${e.id}${eol}`}data: ${e.data}${eol}${eol}`;
}

/** A reference SSE parser (the spec's algorithm): complete dispatched blocks with their id field. */
function parseClient(bytes: Buffer): ModelEvent[] {
  const text = bytes.toString('utf8').replace(/\r\n|\r/g, '\n');
  const blocks = text.split('\n\n');
  blocks.pop(); // the incomplete tail (or '' after the last blank line)
  const out: ModelEvent[] = [];
  for (const block of blocks) {
    let id: string | null = null;
    let data: string | null = null;
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'id') id = value;
      if (field === 'data') data = value;
    }
    if (data !== null) out.push({ id, data });
  }
  return out;
}

function chunk(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of points) {
    if (p > at) out.push(buf.subarray(at, p));
    at = Math.max(at, p);
  }
  if (at < buf.length) out.push(buf.subarray(at));
  return out;
}

const eventArb = fc.record({
  hasId: fc.integer({ min: 0, max: 5 }).map((n) => n > 0),
  data: fc.string({ minLength: 0, maxLength: 90, size: 'large', unit: fc.constantFrom('a', 'b', 'é', '{', '"', ' ') }),
});

const attemptArb = fc.record({
  eol: fc.constantFrom<Eol>('\n', '\r\n', '\r'),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
  /** Where the attempt is cut, as a fraction of its bytes; >= 1 = it runs to the end of the log. */
  cutAt: fc.integer({ min: 0, max: 1300 }).map((n) => n / 1000), // fc.double favours values near 0
  replayExtra: fc.nat({ max: 3 }),
});

describe('SseCursor against a model', () => {
  it.each([0, 32])('delivers every event exactly once, in order, across cuts and resumptions (hold %i bytes)', (maxHeldBytes) => {
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 30 }), fc.array(attemptArb, { minLength: 1, maxLength: 8 }), (spec, attempts) => {
        const log: ModelEvent[] = spec.map((e, i) => ({ id: e.hasId ? `ev-${i}` : null, data: e.data }));
        const cursor = new SseCursor({ maxHeldBytes, maxRememberedIds: 16 });
        const client: Buffer[] = [];
        let next = 0; // first log index the upstream sends in this attempt
        for (const [n, a] of attempts.entries()) {
          // The upstream may replay a few events the client already has (with ids only: it stores those).
          const replayed = log.slice(Math.max(0, next - a.replayExtra), next).filter((e) => e.id !== null);
          const body = Buffer.from([...replayed, ...log.slice(next)].map((e) => serialize(e, a.eol)).join(''), 'utf8');
          const last = n === attempts.length - 1;
          const cutByte = last || a.cutAt >= 1 ? body.length : Math.floor(a.cutAt * body.length);
          for (const c of chunk(body.subarray(0, cutByte), a.cuts)) client.push(...cursor.push(c));
          if (cutByte === body.length) {
            client.push(...cursor.flush());
            expect(parseClient(Buffer.concat(client))).toEqual(log);
            return;
          }
          const got = parseClient(Buffer.concat(client));
          expect(got).toEqual(log.slice(0, got.length)); // a prefix, never a duplicate
          const from = cursor.resumeFrom;
          if (from === null) return; // not resumable here: cut as today, with what the client has
          // Resumable: the client has exactly the events up to `from`, and nothing partial.
          const at = log.findIndex((e) => e.id === from);
          expect(got).toEqual(log.slice(0, at + 1));
          expect(Buffer.concat(client).toString('utf8').replace(/\r\n|\r/g, '\n').endsWith('\n\n')).toBe(true);
          cursor.restart();
          next = at + 1;
        }
      }),
      { seed: 1313, numRuns: 400 },
    );
  });

  it.each([0, 32])('forwards the upstream’s first response byte for byte, repeated ids included, however it is cut (hold %i bytes)', (maxHeldBytes) => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.constantFrom(null, '1', '2', '3'), data: eventArb.map((e) => e.data) }), { minLength: 1, maxLength: 30 }),
        attemptArb,
        (log, a) => {
          const body = Buffer.from(log.map((e) => serialize(e, a.eol)).join(''), 'utf8');
          const cursor = new SseCursor({ maxHeldBytes, maxRememberedIds: 16 });
          const out: Buffer[] = [];
          for (const c of chunk(body, a.cuts)) out.push(...cursor.push(c));
          out.push(...cursor.flush());
          expect(Buffer.concat(out).equals(body)).toBe(true);
          expect(cursor.stats.duplicates).toBe(0);
        },
      ),
      { seed: 1315, numRuns: 400 },
    );
  });

  it('is resumable after every complete event when all events carry ids and fit the hold limit', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, '')), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 8 }), (datas, cuts) => {
        const log = datas.map((data, i) => ({ id: `${i + 1}`, data }));
        const body = Buffer.from(log.map((e) => serialize(e, '\n')).join(''), 'utf8');
        const cursor = new SseCursor({ maxHeldBytes: 4096, maxRememberedIds: 64 });
        const out: Buffer[] = [];
        for (const c of chunk(body, cuts)) {
          out.push(...cursor.push(c));
          const got = parseClient(Buffer.concat(out));
          expect(cursor.resumeFrom).toBe(got.length === 0 ? null : got[got.length - 1]!.id);
        }
      }),
      { seed: 1314, numRuns: 200 },
    );
  });
});

describe('SseCursor rules', () => {
  const cursor = (): SseCursor => new SseCursor({ maxHeldBytes: 1024, maxRememberedIds: 8 });
  const text = (bufs: Buffer[]): string => Buffer.concat(bufs).toString('utf8');

  it('holds back an incomplete event while resumable and forwards it whole', () => {
    const c = cursor();
    expect(text(c.push(Buffer.from('id: 1\ndata: a\n\nid: 2\nda')))).toBe('id: 1\ndata: a\n\n');
    expect(c.resumeFrom).toBe('1');
    expect(text(c.push(Buffer.from('ta: b\n\n')))).toBe('id: 2\ndata: b\n\n');
    expect(c.resumeFrom).toBe('2');
  });

  it('forwards events of a stream without ids as they come (today\'s behaviour)', () => {
    const c = cursor();
    expect(text(c.push(Buffer.from('data: a\n\ndata: b')))).toBe('data: a\n\ndata: b');
    expect(c.resumeFrom).toBeNull();
  });

  it('an event without id after ids makes the stream not resumable until the next id', () => {
    const c = cursor();
    c.push(Buffer.from('id: 1\ndata: a\n\n'));
    c.push(Buffer.from('data: no id\n\n'));
    expect(c.resumeFrom).toBeNull();
    c.push(Buffer.from(': keep-alive\n\n')); // a comment is no event
    expect(c.resumeFrom).toBeNull();
    c.push(Buffer.from('id: 3\ndata: c\n\n'));
    expect(c.resumeFrom).toBe('3');
  });

  it('an empty id clears the position; an id with NUL is ignored; the priming event sets it', () => {
    const c = cursor();
    c.push(Buffer.from('id: p1\ndata: \n\n'));
    expect(c.resumeFrom).toBe('p1');
    c.push(Buffer.from('id: x\0y\ndata: a\n\n'));
    expect(c.resumeFrom).toBeNull(); // data without a usable id after p1
    c.push(Buffer.from('id\ndata: b\n\n'));
    expect(c.lastId).toBeNull();
  });

  it('drops nothing before a restart: the upstream’s own response may repeat an id', () => {
    const c = cursor();
    const body = 'id: 1\ndata: a\n\nid: 1\ndata: b\n\nid: 2\ndata: c\n\nid: 1\ndata: d\n\n';
    expect(text(c.push(Buffer.from(body)))).toBe(body);
    expect(c.stats.duplicates).toBe(0);
    expect(c.resumeFrom).toBe('1');
  });

  it('drops a replayed event already forwarded, and a byte-order mark at the start of a resumed response', () => {
    const c = cursor();
    c.push(Buffer.from('id: 1\ndata: a\n\nid: 2\ndata: b\n\n'));
    c.restart();
    expect(text(c.push(Buffer.from('\ufeffid: 2\ndata: b\n\nid: 3\ndata: c\n\n')))).toBe('id: 3\ndata: c\n\n');
    expect(c.stats.duplicates).toBe(1);
  });

  it('an event larger than the hold limit is forwarded as it comes and is not resumable mid-way', () => {
    const c = new SseCursor({ maxHeldBytes: 8, maxRememberedIds: 8 });
    c.push(Buffer.from('id: 1\ndata: a\n\n'));
    expect(text(c.push(Buffer.from('id: 2\ndata: 0123456789')))).toBe('id: 2\ndata: 0123456789');
    expect(c.resumeFrom).toBeNull();
    expect(text(c.push(Buffer.from('\n\n')))).toBe('\n\n');
    expect(c.resumeFrom).toBe('2');
  });
});

describe('SseCursor flushes every complete write (passthrough rule 6)', () => {
  it('forwards the LF of a CRLF blank line at once, even when it arrives alone', () => {
    const c = new SseCursor({ maxHeldBytes: 1024, maxRememberedIds: 8 });
    const text = (bufs: Buffer[]): string => Buffer.concat(bufs).toString('utf8');
    expect(text(c.push(Buffer.from('id: 1\r\ndata: a\r\n\r\n')))).toBe('id: 1\r\ndata: a\r\n\r\n');
    expect(text(c.push(Buffer.from('id: 2\r\ndata: b\r\n\r')))).toBe('id: 2\r\ndata: b\r\n\r');
    expect(text(c.push(Buffer.from('\n')))).toBe('\n');
    expect(c.resumeFrom).toBe('2');
  });
});
