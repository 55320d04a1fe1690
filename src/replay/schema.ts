/**
 * JSON Schema (draft-07) of one line of a recording. docs/replay.md embeds the same object (a test
 * checks that they are equal and validates recordings against it with ajv).
 */
const headerPairs = {
  type: 'array',
  items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 },
};

const base = {
  seq: { type: 'integer', minimum: 0 },
  t: { type: 'number', minimum: 0 },
  x: { type: 'string', minLength: 1 },
  server: { type: 'string' },
  session: { type: ['string', 'null'] },
  dir: { enum: ['c2s', 's2c'] },
  redacted: { type: 'array', items: { type: 'string' } },
};
const baseRequired = ['type', 'seq', 't', 'x', 'server', 'session', 'dir'];

function event(type: unknown, props: Record<string, unknown>, required: string[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: { type: type, ...base, ...props },
    required: [...baseRequired, ...required],
    additionalProperties: false,
  };
}

export const RECORDING_LINE_SCHEMA: Readonly<Record<string, unknown>> = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mcp-tunnel.dev/schemas/recording-line-v1.json',
  title: 'One line of an mcp-tunnel recording (format version 1)',
  oneOf: [
    {
      type: 'object',
      properties: {
        type: { const: 'header' },
        format: { const: 'mcp-tunnel-recording' },
        version: { const: 1 },
        recorder: {
          type: 'object',
          properties: {
            name: { const: 'mcp-tunnel' },
            version: { type: 'string' },
            side: { enum: ['gateway', 'proxy', 'test'] },
          },
          required: ['name', 'version', 'side'],
          additionalProperties: false,
        },
        startedAt: { type: 'string' },
        part: { type: 'integer', minimum: 1 },
        redaction: {
          type: 'object',
          properties: {
            method: { const: 'hmac-sha256' },
            keyId: { type: 'string' },
            headers: { type: 'array', items: { type: 'string' } },
            queryParams: { type: 'array', items: { type: 'string' } },
            pointers: { type: 'array', items: { type: 'string' } },
            patterns: { type: 'array', items: { type: 'string' } },
          },
          required: ['method', 'keyId', 'headers', 'queryParams', 'pointers', 'patterns'],
          additionalProperties: false,
        },
      },
      required: ['type', 'format', 'version', 'recorder', 'startedAt', 'part', 'redaction'],
      additionalProperties: false,
    },
    event({ const: 'request-head' }, { method: { type: 'string' }, path: { type: 'string' }, headers: headerPairs }, [
      'method',
      'path',
      'headers',
    ]),
    event({ const: 'response-head' }, { status: { type: 'integer' }, headers: headerPairs }, ['status', 'headers']),
    event(
      { enum: ['request-body', 'response-body'] },
      {
        body: {
          oneOf: [
            { type: 'object', properties: { text: { type: 'string' } }, required: ['text'], additionalProperties: false },
            { type: 'object', properties: { b64: { type: 'string' } }, required: ['b64'], additionalProperties: false },
          ],
        },
        whole: { type: 'boolean' },
      },
      ['body', 'whole'],
    ),
    event(
      { const: 'sse' },
      {
        id: { type: 'string' },
        event: { type: 'string' },
        data: { type: 'string' },
        retry: { type: 'integer', minimum: 0 },
        comment: { type: 'string' },
      },
      [],
    ),
    event({ enum: ['end', 'reset'] }, { reason: { type: 'string' } }, []),
    {
      type: 'object',
      properties: {
        type: { const: 'drop' },
        seq: { type: 'integer' },
        t: { type: 'number' },
        events: { type: 'integer', minimum: 1 },
        bytes: { type: 'integer', minimum: 0 },
      },
      required: ['type', 'seq', 't', 'events', 'bytes'],
      additionalProperties: false,
    },
    {
      type: 'object',
      properties: {
        type: { const: 'footer' },
        seq: { type: 'integer' },
        t: { type: 'number' },
        endedAt: { type: 'string' },
        counts: {
          type: 'object',
          properties: { exchanges: { type: 'integer' }, events: { type: 'integer' }, bytes: { type: 'integer' } },
          required: ['exchanges', 'events', 'bytes'],
          additionalProperties: false,
        },
        dropped: {
          type: 'object',
          properties: { events: { type: 'integer' }, bytes: { type: 'integer' } },
          required: ['events', 'bytes'],
          additionalProperties: false,
        },
        next: { type: 'string' },
      },
      required: ['type', 'seq', 't', 'endedAt', 'counts', 'dropped'],
      additionalProperties: false,
    },
  ],
};
