#!/usr/bin/env node
// Entry point kept out of dist/ so the npm bin link exists before the first build.
try {
  require.resolve('../dist/main.js');
} catch {
  process.stderr.write('castforge: not built yet; run `npm run build` in the repository first\n');
  process.exit(1);
}
require('../dist/main.js');
