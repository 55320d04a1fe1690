import { loadCheckpointSigner, openAuditDestination } from '../audit';
import { runDemo } from '../demo';
import { startGateway } from '../gateway';
import { startProxy } from '../proxy';
import type { Runners } from './types';

/** The real components. Kept out of cli.ts so that tests can run the CLI with fakes. */
export const defaultRunners: Runners = {
  startGateway,
  startProxy,
  runDemo,
  openAudit: (destination, log, audit) =>
    openAuditDestination(destination, {
      log,
      chain:
        audit === undefined
          ? {}
          : { signer: loadCheckpointSigner(audit), every: audit.checkpoint.every, intervalMs: audit.checkpoint.intervalMs },
    }),
};
