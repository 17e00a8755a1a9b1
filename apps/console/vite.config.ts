import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The console is static files under the API's /console, built into dist/ by `npm run build`.
// The client package is bundled from its TypeScript sources (ESM, tree-shaken) rather than its CommonJS build.
export default defineConfig({
  base: '/console/',
  resolve: {
    alias: {
      '@castforge/client': fileURLToPath(new URL('../../packages/client/src/index.ts', import.meta.url)),
    },
  },
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // `npm run dev -w @castforge/console`: hot reload here, the API calls sent on to `npm start`.
  server: {
    proxy: Object.fromEntries(
      ['/profiles', '/generate', '/campaigns', '/webhooks', '/results'].map((p) => [
        p,
        'http://localhost:8080',
      ]),
    ),
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
