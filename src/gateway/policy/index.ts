/**
 * Request policy at the gateway (docs/policy.md): tool allow/deny rules on `tools/call` and on
 * `tools/list` results, per-client rate and concurrency limits, session binding, and the
 * protocol-era header checks. Everything here runs before a request enters the tunnel, except the
 * `tools/list` filter, which rewrites the response on its way back.
 */
export { compileGlob, GlobList, type GlobMatcher } from './glob';
export { CompiledPolicy, ToolRule, subjectKey, type AppliedPolicy, type PolicySubject, type ToolVerdict } from './engine';
export { ClientLimiter, TokenBucket, MAX_LIMITER_ENTRIES, type MsClock, type Slot } from './limiter';
export { admitStream, DEFAULT_MAX_OPEN_STREAMS_PER_CLIENT } from './streams';
export { HEADER_MISMATCH_CODE, HEADER_ERA_VERSION, decodeMirroredValue, headerMismatch, isHeaderEra, type MirroredHeaders } from './era';
export { MAX_FILTERED_BYTES, ToolsFilterError, ToolsListSseFilter, filterToolsJsonBody, filterToolsMessage } from './tools-filter';
export { sendFilteredResponse, toolsSseFilter, withoutLength, type ToolsListFilterSpec } from './respond';
export {
  admitRequest,
  HEADER_CHECK_RULE,
  SESSION_BINDING_RULE,
  TOOL_DENIED_CODE,
  type Admission,
  type AdmitContext,
  type PolicyDecision,
  type PolicyRuntime,
} from './admit';

import { ClientLimiter } from './limiter';
import type { PolicyRuntime } from './admit';

/** Fresh policy state for a gateway (kept across configuration reloads). */
export function createPolicyRuntime(clock?: () => number): PolicyRuntime {
  return { limiter: new ClientLimiter(clock) };
}
