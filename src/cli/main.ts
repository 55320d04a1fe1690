#!/usr/bin/env node
/** The `mcp-tunnel` binary: everything testable lives in runCli; this only binds it to the process. */
import { describeError } from '../errors';
import { runCli } from './cli';
import { processIo } from './process-io';
import { defaultRunners } from './runners';

runCli(process.argv.slice(2), processIo(defaultRunners)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`mcp-tunnel: ${describeError(err)}\n`);
    process.exit(1);
  },
);
