import { createServer, type AddressInfo } from 'node:net';

/**
 * A loopback port nothing listens on right now (bound on port 0, then closed): for "connection
 * refused" cases, or a fixed port a child process will bind next (a small race, harmless in tests).
 */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
