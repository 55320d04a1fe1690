/** Record and replay of MCP traffic (docs/replay.md). */
export { Recorder, toPairs, type ExchangeMeta, type ExchangeTap, type RecorderOptions, type RecorderStats, type TapHeaders } from './recorder';
export { Redactor, isPlaceholder, DEFAULT_REDACTED_HEADERS, DEFAULT_REDACTED_QUERY, type RedactionOptions } from './redact';
export { FORMAT_NAME, FORMAT_VERSION, CLIENT_GONE_REASON, encodeBody, decodeBody } from './format';
export type { RecordingLine, HeaderRecord, FooterRecord, WireRecord, SseRecord, HeaderPairs, BodyData } from './format';
export { RECORDING_LINE_SCHEMA } from './schema';
export { loadRecording, parseLines, fromLines, type Recording, type RecordedExchange, type RecordedSse } from './reader';
export { canonicalize, matchParams, VOLATILE_META_KEYS } from './canonical';
export { diffJson, type PatchOp, type DiffOptions } from './diff';
export { Matcher, matchShape, type MatchResult } from './matcher';
export { startReplayServer, type ReplayServer, type ServeOptions, type Timing } from './serve';
export { ReplayError, ReplayErrorCode } from './errors';
export { runReplay, ReplayRun, type RunOptions, type RunResult } from './run';
export { compareExchange, type Difference, type Severity, type Observed } from './compare';
export { jsonReport, markdownReport, junitReport, type JsonReport } from './report';
export { toHar, type HarEventSourceEvent } from './har';
export { runReplayServe, runReplayRun, runReplayExport, parseTiming, EXIT, type ReplayIo } from './commands';
export { openConfiguredRecorder } from './open';
export { observeWrites, observeHead } from './observe';
