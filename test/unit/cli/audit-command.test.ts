import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Subject } from 'rxjs';
import { AuditChain } from '../../../src/audit/chain';
import { hmacSigner } from '../../../src/audit/keys';
import { runCli } from '../../../src/cli';
import type { AuditConfig } from '../../../src/config';
import { fakeIo, until } from './fake-io';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-audit-cli-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeTrail(name: string, n: number, signer: AuditChain = new AuditChain({ id: 'c1' })): string {
  let text = '';
  for (let i = 1; i <= n; i++) text += signer.seal(`${JSON.stringify({ level: 30, audit: true, rid: `r${i}`, msg: 'audit' })}\n`);
  const cp = signer.checkpoint();
  if (cp !== null) text += cp;
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('mcp-tunnel audit verify', () => {
  it('exit 0 and the summary for an intact trail', async () => {
    const file = writeTrail('audit.log', 3);
    const io = fakeIo();
    expect(await runCli(['audit', 'verify', file], io)).toBe(0);
    expect(io.out.text).toBe('chain intact: 3 records, seq 1..3, 0 checkpoints not verified (no --hmac-key-file / --public-key given)\n');
    expect(io.err.text).toBe('');
  });

  it('exit 1 and the first problem for an edited trail', async () => {
    const file = writeTrail('audit.log', 3);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('"rid":"r2"', '"rid":"rX"'));
    const io = fakeIo();
    expect(await runCli(['audit', 'verify', file], io)).toBe(1);
    expect(io.out.text).toBe(`TUNNEL_AUDIT_RECORD_EDITED: edited record: hash mismatch at seq 2, line 2 of ${file}\n`);
  });

  it('verifies checkpoints with --hmac-key-file and --public-key', async () => {
    // Key files hold text (e.g. `openssl rand -base64 48`); raw random bytes could end in whitespace, which is trimmed.
    const key = Buffer.from(randomBytes(32).toString('base64url'));
    const keyFile = path.join(dir, 'audit.key');
    fs.writeFileSync(keyFile, Buffer.concat([key, Buffer.from('\n')]));
    const file = writeTrail('audit.log', 2, new AuditChain({ signer: hmacSigner(key), every: 0 }));
    const io = fakeIo();
    expect(await runCli(['audit', 'verify', file, '--hmac-key-file', keyFile], io)).toBe(0);
    expect(io.out.text).toMatch(/^chain intact: 3 records, seq 1\.\.3, 1 checkpoints verified\n$/);

    const { publicKey } = generateKeyPairSync('ed25519');
    const pub = path.join(dir, 'pub.pem');
    fs.writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
    const io2 = fakeIo();
    expect(await runCli(['audit', 'verify', '--public-key', pub, file], io2)).toBe(1);
    expect(io2.out.text).toMatch(/^TUNNEL_AUDIT_CHECKPOINT_INVALID: checkpoint at seq 3/);
  });

  it('exit 2 for usage errors, unreadable files and unusable keys', async () => {
    const file = writeTrail('audit.log', 1);
    const short = path.join(dir, 'short.key');
    fs.writeFileSync(short, 'too-short');
    const cases: Array<[string[], RegExp]> = [
      [['audit'], /missing subcommand/],
      [['audit', 'check', file], /unknown subcommand 'check'/],
      [['audit', 'verify'], /missing FILE/],
      [['audit', 'verify', file, '--key', 'x'], /Unknown option '--key'/],
      [['audit', 'verify', file, '--hmac-key-file', short, '--public-key', short], /not both/],
      [['audit', 'verify', file, path.join(dir, 'nope.log')], /cannot read .*nope\.log \(ENOENT\)/],
      [['audit', 'verify', file, '--hmac-key-file', short], /HMAC key must be at least 32 bytes \(it has 9\)/],
      [['audit', 'verify', file, '--public-key', short], /not a PEM public key/],
    ];
    for (const [args, message] of cases) {
      const io = fakeIo();
      expect(await runCli(args, io)).toBe(2);
      expect(io.err.text).toMatch(message);
      expect(io.out.text).toBe('');
      expect(io.err.text).not.toContain('too-short');
    }
  });

  it('--help describes the command', async () => {
    const io = fakeIo();
    expect(await runCli(['audit', 'verify', '--help'], io)).toBe(0);
    expect(io.out.text).toContain('Usage: mcp-tunnel audit verify FILE [FILE...]');
    const list = fakeIo();
    expect(await runCli(['--help'], list)).toBe(0);
    expect(list.out.text).toMatch(/\n {2}audit +Audit trails/);
  });
});

describe('SIGHUP reopens the audit destination', () => {
  it('gateway: each SIGHUP reopens the audit logger, until the gateway stops', async () => {
    const io = fakeIo({
      MCP_TUNNEL_LISTEN_PORT: '0',
      MCP_TUNNEL_TUNNELS: JSON.stringify([{ id: 'corp', secrets: ['audit-cli-test-secret-0123456789abcdefg'] }]),
      MCP_TUNNEL_AUDIT: path.join(dir, 'audit.log'),
      MCP_TUNNEL_AUDIT_CHECKPOINT_EVERY: '5',
    });
    const hup = new Subject<'SIGHUP'>();
    const reopen = io.fakes.audit.reopen;
    const exit = runCli(['gateway'], { ...io, reloadSignals$: hup });
    await until(() => io.logs.text.includes('mcp-tunnel started'));
    const audit = io.fakes.runners.openAudit.mock.calls[0]?.[2] as AuditConfig;
    expect(audit).toMatchObject({ hmacKeyFile: null, signingKeyFile: null, checkpoint: { every: 5, intervalMs: 60000 } });

    hup.next('SIGHUP');
    hup.next('SIGHUP');
    expect(reopen).toHaveBeenCalledTimes(2);
    io.signals.next('SIGTERM');
    expect(await exit).toBe(0);
    hup.next('SIGHUP');
    expect(reopen).toHaveBeenCalledTimes(2);
  });

  it('proxy: SIGHUP reopens the audit logger too', async () => {
    const io = fakeIo({ MCP_TUNNEL_URL: 'wss://gw.example.com/tunnel/corp', MCP_TUNNEL_SECRET: 'audit-cli-test-secret-0123456789abcdefg' });
    const hup = new Subject<'SIGHUP'>();
    const reopen = io.fakes.audit.reopen;
    const exit = runCli(['proxy'], { ...io, reloadSignals$: hup });
    await until(() => io.logs.text.includes('starting proxy') && io.fakes.runners.startProxy.mock.calls.length > 0);
    hup.next('SIGHUP');
    expect(reopen).toHaveBeenCalledTimes(1);
    io.signals.next('SIGTERM');
    expect(await exit).toBe(0);
  });
});
