export { runDemo, DEMO_SERVER, DEMO_TUNNEL, type RunDemoOptions, type RunningDemo } from './run-demo';
export { DemoError, DEMO_FAILED } from './errors';
export {
  startSampleServer,
  SAMPLE_MCP_PATH,
  type SampleServer,
  type SampleServerOptions,
} from './sample-server';
export { createSampleMcpServer, visibleHeaders, SAMPLE_SERVER_INFO } from './sample-tools';
