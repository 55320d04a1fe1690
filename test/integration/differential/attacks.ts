/**
 * Known attacks of issue 8, written as variants: each is run as a named regression test and fed
 * to its family's property as an explicit example, so a seed change can never lose it.
 */
import type { Variant } from './variants';

const plain: Variant['style'] = { escapeMethod: 'none', escapeTool: false, dup: 'none', decoy: 'echo', bom: false, ws: false };
const evil = { batch: false as const, msg: { method: 'tools/call' as const, tool: 'evil' as const } };
const echo = { batch: false as const, msg: { method: 'tools/call' as const, tool: 'echo' as const } };
const v = (p: Partial<Variant> & Pick<Variant, 'who'>): Variant => ({
  target: { kind: 'notes', slash: false },
  method: 'POST',
  payload: evil,
  style: plain,
  charset: null,
  encoding: null,
  sessionHeaders: 'default',
  size: null,
  ...p,
});

/** Named attacks, by family. */
export const ATTACKS = {
  charset: {
    'charset utf-7 smuggles tools/call evil past the tool rule (streamable)': v({ who: 'alice', charset: { label: 'utf-7', bytes: 'utf7-attack' } }),
    'charset utf-7 smuggles tools/call evil past the tool rule (legacy)': v({ who: 'alice', target: { kind: 'legacy-post', whose: 'own', form: 'plain' }, charset: { label: 'utf-7', bytes: 'utf7-attack' } }),
    'charset quoted ("utf-7") smuggles tools/call evil past the tool rule': v({ who: 'alice', charset: { label: '"utf-7"', bytes: 'utf7-attack' } }),
    'charset repeated (utf-8; charset=utf-7) is read one way by both': v({ who: 'alice', charset: { label: 'utf-8; charset=utf-7', bytes: 'utf7-attack' } }),
    'charset utf-16le body is audited as what ran': v({ who: 'bob', charset: { label: 'utf-16le', bytes: 'utf16le' } }),
  },
  encoding: {
    'gzip-encoded body is audited as what ran': v({ who: 'bob', encoding: 'gzip' }),
    'deflate-encoded tools/call is checked by the tool rule': v({ who: 'alice', encoding: 'deflate' }),
  },
  json: {
    'duplicate name keys: the last one (what runs) is the one checked': v({ who: 'alice', style: { ...plain, dup: 'name', decoy: 'echo' } }),
    'escaped method and tool name are checked as decoded': v({ who: 'alice', style: { ...plain, escapeMethod: 'unicode', escapeTool: true, bom: true, ws: true } }),
    'a batch with an allowed and a denied call runs neither': v({ who: 'alice', payload: { batch: true, msgs: [{ method: 'tools/call', tool: 'echo' }, { method: 'tools/call', tool: 'evil' }] } }),
  },
  paths: {
    'path escape: /mcp/notes/admin-mcp reaches another server on the same origin': v({ who: 'alice', payload: echo, target: { kind: 'notes-escape', path: '/admin-mcp' } }),
    'path escape attempt: /mcp/notes/../admin-mcp runs nothing outside notes': v({ who: 'bob', payload: echo, target: { kind: 'notes-escape', path: '/../admin-mcp' } }),
    'query override: ?tenant=admin replaces the configured ?tenant=notes': v({ who: 'bob', payload: echo, target: { kind: 'notes-query', query: '?tenant=admin' } }),
    'cross-server: the legacy message endpoint reached through notes': v({ who: 'bob', target: { kind: 'notes-to-legacy', whose: 'own' } }),
  },
  sessions: {
    'legacy session binding: an Mcp-Session-Id header lets bob post into alice\'s legacy session': v({ who: 'bob', payload: echo, target: { kind: 'legacy-post', whose: 'other', form: 'plain' }, sessionHeaders: ['own-notes'] }),
    'legacy session binding: a random Mcp-Session-Id header': v({ who: 'bob', payload: echo, target: { kind: 'legacy-post', whose: 'other', form: 'plain' }, sessionHeaders: ['random'] }),
    'legacy session binding: duplicated sessionId query parameter runs nothing in the other session': v({ who: 'bob', payload: echo, target: { kind: 'legacy-post', whose: 'other', form: 'dup-own-first' } }),
    'streamable session binding: another identity\'s Mcp-Session-Id': v({ who: 'bob', payload: echo, sessionHeaders: ['other-notes'] }),
  },
  methods: {
    'PUT with a tools/call body executes nothing unchecked': v({ who: 'alice', method: 'PUT' }),
    'DELETE with a tools/call body executes nothing unchecked': v({ who: 'alice', method: 'DELETE', target: { kind: 'legacy-post', whose: 'own', form: 'plain' } }),
  },
  sizes: {
    'audit truth: a body over the 64 KiB inspection prefix names the tool that ran, or says partial': v({ who: 'bob', size: { limit: 'audit', delta: 64 }, style: { ...plain, dup: 'name', decoy: 'echo' } }),
    'audit truth: a body 1 byte over the 64 KiB inspection prefix': v({ who: 'bob', size: { limit: 'audit', delta: 1 } }),
    'a body of exactly the 64 KiB inspection prefix is audited completely': v({ who: 'bob', size: { limit: 'audit', delta: 0 } }),
    'a body over policy.inspectLimitBytes is never forwarded unchecked': v({ who: 'alice', size: { limit: 'policy', delta: 64 }, style: { ...plain, dup: 'name', decoy: 'echo' } }),
    'a body at policy.inspectLimitBytes is checked': v({ who: 'alice', size: { limit: 'policy', delta: 0 } }),
    'a body at maxRequestBodyBytes + 1 executes nothing': v({ who: 'bob', payload: echo, size: { limit: 'body', delta: 1 } }),
  },
  mixed: {},
} satisfies Record<string, Record<string, Variant>>;

/**
 * Every limit ± 1 (and +64, which puts the last key beyond a cut at the limit), for both
 * identities and both transports: fed to the size property as examples, so each boundary runs.
 */
export const SIZE_GRID: Variant[] = (['alice', 'bob'] as const).flatMap((who) =>
  (['audit', 'policy', 'body'] as const).flatMap((limit) =>
    ([-1, 0, 1, 64] as const).flatMap((delta) =>
      ([{ kind: 'notes', slash: false }, { kind: 'legacy-post', whose: 'own', form: 'plain' }] as const).map((target) =>
        v({ who, target, payload: echo, size: { limit, delta }, style: { ...plain, dup: 'name', decoy: 'evil' } }),
      ),
    ),
  ),
);
