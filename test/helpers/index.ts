export { waitFor, type WaitForOptions, type Satisfied } from './wait-for';
export { closeAll, Resources, type Closable } from './close-all';
export {
  readSseEvents,
  sseItems,
  SseParser,
  type SseEvent,
  type SseComment,
  type SseItem,
  type SseSource,
  type ReadSseOptions,
} from './sse';
export {
  spawnProcess,
  spawnCli,
  spawnTs,
  REPO_ROOT,
  stopAllProcesses,
  stopProcessesAfterEach,
  rssOf,
  CLI_PATH,
  type SpawnedProcess,
  type SpawnOptions,
  type WaitForLineOptions,
  type OutputLine,
  type ExitInfo,
  type StreamName,
} from './process';
export { connectClient, createClient, type ConnectClientOptions, type ConnectedClient } from './mcp-client';
