import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * With API_KEYS unset, `npm start` seeds one key for the tenant `demo` so the README walk-through works
 * out of the box. The key is kept in DATA_DIR/demo-api-key and reused on the next start.
 */
export function demoKey(dataDir: string): { tenant: string; key: string; file: string } {
  const file = path.join(dataDir, 'demo-api-key');
  mkdirSync(dataDir, { recursive: true });
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= 8) return { tenant: 'demo', key, file };
  }
  const key = `cfk_demo_${randomBytes(18).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { tenant: 'demo', key, file };
}
