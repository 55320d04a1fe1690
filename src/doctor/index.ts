/** `mcp-tunnel doctor`: checks a proxy's configuration and its path to the gateway and upstreams, step by step. */
export { runDoctor, type DoctorOptions } from './doctor';
export { renderSteps, allPassed, type StepResult, type StepStatus } from './steps';
export { hintFor, upstreamHint } from './hints';
export type { UpstreamTarget } from './tunnel-checks';
