/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Suite-wide check that no configured secret or API key appears in any captured log line.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // Integration tests start real servers and child processes; keep the machine's two cores for them.
  maxWorkers: 2,
  testTimeout: 60000,
  // Off: detectOpenHandles slows every test and only reports; it does not fail the suite. A test that
  // leaves a socket or timer open shows up as jest's "a worker process has failed to exit gracefully"
  // warning; forceExit stays off so that the run must end on its own. Run with --detectOpenHandles to
  // find the handle.
  detectOpenHandles: false,
  forceExit: false,
};
