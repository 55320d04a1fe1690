export { startProxy, type RunningProxy, type ProxyDeps, type ProxyStatus } from './proxy';
export { serveStream } from './serve-stream';
