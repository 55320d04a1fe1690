/** @type {import('jest').Config} */
module.exports = {
  // jest's node environment plus a check that fails a test file which leaves a server, socket,
  // child process or ref'd timer open after its last afterAll (see the file).
  testEnvironment: '<rootDir>/test/leak-check-environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Suite-wide check that no configured secret or API key appears in any captured log line.
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // One RxJS in a test process: the bundle src/rx.ts loads (decisions.md D84), also for tests that
  // import 'rxjs' or 'rxjs/testing'.
  moduleNameMapper: {
    '^rxjs$': '<rootDir>/node_modules/rxjs/dist/bundles/rxjs.umd.min.js',
    '^rxjs/testing$': '<rootDir>/test/helpers/rxjs-testing.ts',
  },
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  // Integration tests start real servers and child processes; keep the machine's two cores for them.
  maxWorkers: 2,
  testTimeout: 60000,
  // Open handles are caught per file by the test environment above; detectOpenHandles would run
  // every file in one process. No forceExit: a worker must end on its own.
  detectOpenHandles: false,
  forceExit: false,
  // A worker that has closed everything still needs time to exit: Node waits for V8's background
  // compile jobs before exiting (e.g. undici's llhttp WebAssembly tiering up to TurboFan, ~1 s on a
  // loaded 2-core machine, nodejs/help#2823), and jest's default 500 ms then reports "a worker
  // process has failed to exit gracefully". A worker that really leaks is still killed after this.
  workerGracefulExitTimeout: 5000,
};
