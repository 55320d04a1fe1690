import { CONFIG_INVALID, ConfigError, isSecretKey, maskSecret } from '../../../src/config';
import { TunnelError, hasCode } from '../../../src/errors';

describe('ConfigError', () => {
  it('is a TunnelError with code TUNNEL_CONFIG_INVALID and a one-line message', () => {
    const err = new ConfigError({ key: 'listen.port', problem: 'must be an integer from 0 to 65535', value: 70000 });
    expect(err).toBeInstanceOf(TunnelError);
    expect(hasCode(err, CONFIG_INVALID)).toBe(true);
    expect(err.retryable).toBe(false);
    expect(err.key).toBe('listen.port');
    expect(err.problem).toBe('must be an integer from 0 to 65535');
    expect(err.value).toBe('70000');
    expect(err.message).toBe('listen.port: must be an integer from 0 to 65535 (value: 70000)');
  });

  it('leaves the value out when there is none', () => {
    const err = new ConfigError({ key: 'url', problem: 'must be set' });
    expect(err.value).toBeUndefined();
    expect(err.message).toBe('url: must be set');
  });

  it('masks values of secret keys, whatever the caller passes', () => {
    const secret = 'abcdefghijklmnopqrstuvwxyz012345';
    for (const key of ['secret', 'tunnels[0].secrets[1]', 'clients[2].apiKey', 'tls.key', 'upstream.tls.key']) {
      const err = new ConfigError({ key, problem: 'bad', value: secret });
      expect(err.message).not.toContain(secret);
      expect(err.value).toBe('"ab…(32 chars)"');
    }
  });

  it('masks any value when told the key is sensitive', () => {
    const err = new ConfigError({ key: 'tunnels', problem: 'bad', value: [{ secrets: ['s3cr3t'] }], sensitive: true });
    expect(err.value).toBe('[redacted]');
    expect(err.message).not.toContain('s3cr3t');
  });
});

describe('maskSecret', () => {
  it('shows two characters and the length of long strings only', () => {
    expect(maskSecret('0123456789abcdef')).toBe('"01…(16 chars)"');
    expect(maskSecret('0123456789abcde')).toBe('[redacted]');
    expect(maskSecret('')).toBe('""');
    expect(maskSecret(['x'])).toBe('[redacted]');
    expect(maskSecret(42)).toBe('[redacted]');
    expect(maskSecret(null)).toBe('[redacted]');
  });
});

describe('isSecretKey', () => {
  it.each([
    ['secret', true],
    ['secrets', true],
    ['tunnels[0].secrets', true],
    ['tunnels[0].secrets[3]', true],
    ['clients[0].apiKey', true],
    ['tls.key', true],
    ['tls.cert', false],
    ['tunnels[0].id', false],
    ['secretFile', false],
    ['listen.port', false],
  ])('%s → %s', (key, expected) => {
    expect(isSecretKey(key)).toBe(expected);
  });
});
