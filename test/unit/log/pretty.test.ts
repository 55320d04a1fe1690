import { Writable } from 'node:stream';
import pino from 'pino';
import { nextLevel } from '../../../src/cli/log-level';
import { safeUrl } from '../../../src/cli/startup';
import { createLogger } from '../../../src/log';
import { prettyDestination, prettyLine } from '../../../src/log/pretty';

describe('prettyLine', () => {
  const line = (entry: Record<string, unknown>): string => JSON.stringify({ level: 30, time: '2026-12-06T10:37:06.123Z', pid: 1, name: 'mcp-tunnel', ...entry });

  it('time, level, component, message, then the fields; pid and name left out', () => {
    expect(prettyLine(line({ component: 'gateway', msg: 'gateway listening', url: 'http://127.0.0.1:8080', tunnels: ['corp'] }), { colors: false })).toBe(
      '10:37:06.123 INFO  gateway: gateway listening url=http://127.0.0.1:8080 tunnels=["corp"]\n',
    );
  });

  it('quotes strings with spaces, shows err as its message and puts the hint on its own line', () => {
    const out = prettyLine(line({ level: 50, msg: 'failed', reason: 'two words', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' }, hint: 'set MCP_TUNNEL_CA_FILE' }), { colors: false });
    expect(out).toBe('10:37:06.123 ERROR failed reason="two words" err="boom"\n    hint: set MCP_TUNNEL_CA_FILE\n');
    expect(out).not.toContain('at x');
  });

  it('colours only when asked; a line that is not JSON passes through', () => {
    expect(prettyLine(line({ level: 40, msg: 'w' }), { colors: true })).toContain('\u001b[33mWARN');
    expect(prettyLine('plain text', { colors: true })).toBe('plain text\n');
  });

  it('as a pino destination: redaction still applies (pino builds the JSON first)', () => {
    let text = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => { text += c.toString(); cb(); } });
    const logger = createLogger({ destination: prettyDestination({ write: (t) => sink.write(t) }, { colors: false }) });
    logger.info({ secret: 'hunter2hunter2', tunnel: 'corp' }, 'hello');
    expect(text).toMatch(/INFO {2}hello secret=\[redacted\] tunnel=corp\n$/);
    expect(text).not.toContain("hunter2");
    expect(pino.levels.values.info).toBe(30);
  });
});

describe('log level cycling and safe URLs', () => {
  it('SIGUSR2 cycles info → debug → trace → info; anything else goes to info', () => {
    expect(['info', 'debug', 'trace', 'warn', 'error'].map(nextLevel)).toEqual(['debug', 'trace', 'info', 'info', 'info']);
  });

  it('the start-up URL never carries user info or a query', () => {
    expect(safeUrl('wss://u:p@gw.example/tunnel/corp?token=x#f')).toBe('wss://gw.example/tunnel/corp');
  });
});
