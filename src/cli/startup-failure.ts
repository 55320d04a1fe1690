import { F } from '../log';

/**
 * Start-up failures that are the operator's to fix, not bugs: logged as one line (code, reason,
 * hint; no stack trace) and exited with `exit` (`usage` = 2, `failure` = 1; lifecycle.ts `EXIT`). Anything else keeps the full error (and exit 1).
 */
const OPERATOR_FAILURES: Record<string, { exit: 'usage' | 'failure'; hint?: string }> = {
  /** The public port: in use, not permitted, no such address. Like a bad configuration: exit 2. */
  TUNNEL_LISTEN_FAILED: { exit: 'usage' },
  TUNNEL_OPS_LISTEN_FAILED: { exit: 'failure', hint: 'change ops.listen / --ops-listen / MCP_TUNNEL_OPS_LISTEN, or stop what listens there' },
  TUNNEL_GATEWAY_TLS_INVALID: { exit: 'failure', hint: 'tls.cert must be the PEM chain (leaf first) and tls.key its PEM key, both readable' },
  TUNNEL_AUDIT_KEY_INVALID: { exit: 'failure' },
};

/** The log fields and exit code for an operator's start-up failure, or null for anything else. */
export function operatorStartupFailure(err: unknown): { fields: Record<string, unknown>; exit: 'usage' | 'failure' } | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  const known = OPERATOR_FAILURES[code];
  if (known === undefined) return null;
  const reason = (err as { message?: unknown }).message;
  const hint = (err as { hint?: unknown }).hint ?? known.hint;
  return { fields: { [F.code]: code, [F.reason]: typeof reason === 'string' ? reason : code, ...(typeof hint === 'string' ? { [F.hint]: hint } : {}) }, exit: known.exit };
}
