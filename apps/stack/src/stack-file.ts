import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * DATA_DIR/stack.json: where a running `npm start` keeps its stores, so `npm run keys` and `npm run worker`
 * reach the same MongoDB (the embedded one has a port picked at start), Redis, key prefix and result files.
 */
export const StackFile = z.object({
  mongodb_uri: z.string(),
  redis_url: z.string(),
  /** Absent in files written before `npm run worker` existed: the default prefix then. */
  redis_prefix: z.string().optional(),
  data_dir: z.string().optional(),
  api_url: z.string(),
  pid: z.number().int(),
});
export type StackFile = z.infer<typeof StackFile>;

export const stackFilePath = (dataDir: string) => path.join(dataDir, 'stack.json');

export function writeStackFile(dataDir: string, file: StackFile): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(stackFilePath(dataDir), JSON.stringify(file, null, 2));
}

/** The running stack's file, or null when there is none (or its launcher is gone). */
export function readStackFile(dataDir: string): StackFile | null {
  const file = stackFilePath(dataDir);
  if (!existsSync(file)) return null;
  const parsed = StackFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`${file} is not a stack file this version understands`);
  try {
    process.kill(parsed.data.pid, 0);
  } catch {
    return null;
  }
  return parsed.data;
}
