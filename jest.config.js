/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // Integration tests start real servers and child processes; keep the machine's two cores for them.
  maxWorkers: 2,
  testTimeout: 60000,
  // A test that leaves a socket or timer open fails the suite instead of hanging CI.
  detectOpenHandles: false,
  forceExit: false,
};
