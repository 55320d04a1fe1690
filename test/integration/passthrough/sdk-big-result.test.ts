/**
 * Part of the "done when" SDK suite (see sdk-suite.test.ts), in a file of its own so that it runs
 * in parallel with the 200-call test: a 20 MB tool result through the tunnel, intact (#5).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { findPayloadMismatch, payloadText, sha256Hex } from '../../fixtures/mcp-upstream';
import { Resources } from '../../helpers';
import { startTunnelled, textAt } from './helpers';

const res = new Resources();
afterEach(() => res.closeAll());

describe('SDK suite through the tunnel: large result', () => {
  it('#5 a 20 MB tool result arrives intact (sha256)', async () => {
    const t = await startTunnelled(res);
    const c = await t.connect();
    const bytes = 20 * 1024 * 1024;
    const r = (await c.client.callTool({ name: 'big', arguments: { bytes } })) as CallToolResult;
    const text = textAt(r, 0);
    expect(text.length).toBe(bytes);
    const expected = sha256Hex(payloadText(bytes));
    expect(sha256Hex(text)).toBe(expected);
    expect(findPayloadMismatch(text, bytes)).toBe(-1);
    expect(textAt(r, 1)).toBe(`sha256:${expected}`);
    expect(r.structuredContent).toEqual({ bytes, sha256: expected });
  });
});
