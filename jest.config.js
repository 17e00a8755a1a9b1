// One jest run covers every workspace. Sources are transpiled by ts-jest (types are checked by `npm run lint`),
// and workspace imports resolve to their src/ so tests never run against a stale build.
const path = require('node:path');

const tsJest = ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json') }];
const project = (displayName, roots) => ({
  displayName,
  roots: roots.map((r) => path.join(__dirname, r)),
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@castforge/(schemas|core|client)$': path.join(__dirname, 'packages/$1/src'),
    '^@castforge/testkit(/.*)?$': path.join(__dirname, 'test/support$1'),
  },
  testMatch: ['**/*.test.ts'],
  setupFilesAfterEnv: [path.join(__dirname, 'test/support/jest-setup.ts')],
});

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    project('schemas', ['packages/schemas/src']),
    project('core', ['packages/core/src']),
    project('client', ['packages/client/src']),
    project('api', ['apps/api/src']),
    project('worker', ['apps/worker/src']),
    project('cli', ['apps/cli/src']),
    project('stack', ['apps/stack/src']),
    project('stories', ['test']),
  ],
  globalSetup: path.join(__dirname, 'test/support/global-setup.ts'),
  globalTeardown: path.join(__dirname, 'test/support/global-teardown.ts'),
  maxWorkers: process.env.JEST_MAX_WORKERS ?? 2,
  testTimeout: 30_000,
};
