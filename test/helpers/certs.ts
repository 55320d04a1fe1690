import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A PEM certificate and key written to disk. */
export interface CertFiles {
  cert: string;
  key: string;
  /** SHA-256 of the certificate's SubjectPublicKeyInfo, hex (what MCP_TUNNEL_PIN_SHA256 takes). */
  spkiSha256: string;
  /** SHA-256 fingerprint of the whole certificate, as `X509Certificate.fingerprint256` prints it. */
  fingerprint256: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('/usr/bin/openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** SPKI pin computed by openssl itself (independent of the code under test). */
function opensslPin(certFile: string, cwd: string): string {
  const pub = execFileSync('/usr/bin/openssl', ['x509', '-in', certFile, '-pubkey', '-noout'], { cwd });
  const der = execFileSync('/usr/bin/openssl', ['pkey', '-pubin', '-outform', 'der'], { cwd, input: pub });
  return createHash('sha256').update(der).digest('hex');
}

/**
 * A throw-away test CA in a temp folder, issuing P-256 server certificates for 127.0.0.1/localhost
 * with `/usr/bin/openssl`. `cleanup()` removes the folder.
 */
export class TestCa {
  readonly dir: string;
  readonly caCert: string;
  private readonly caKey: string;
  private serial = 1;

  constructor(name = 'mcp-tunnel-test-ca') {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-tunnel-certs-'));
    this.caCert = path.join(this.dir, 'ca.crt');
    this.caKey = path.join(this.dir, 'ca.key');
    openssl(
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      this.dir,
    );
  }

  /** Issues a server certificate (new key) as `<name>.crt` / `<name>.key` in the CA's folder. */
  issue(name: string): CertFiles {
    const ext = path.join(this.dir, `${name}.ext`);
    fs.writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=localhost'], this.dir);
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(this.serial++), '-out', `${name}.crt`, '-days', '2', '-extfile', ext],
      this.dir,
    );
    const cert = path.join(this.dir, `${name}.crt`);
    return {
      cert,
      key: path.join(this.dir, `${name}.key`),
      spkiSha256: opensslPin(cert, this.dir),
      fingerprint256: new X509Certificate(fs.readFileSync(cert)).fingerprint256,
    };
  }

  /** The CA certificate, PEM. */
  caPem(): string {
    return fs.readFileSync(this.caCert, 'utf8');
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
