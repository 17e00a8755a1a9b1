import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Readable } from 'node:stream';

/**
 * Where finished images live until their link expires (SPEC §5). Pluggable: a directory on disk by default,
 * shared by the API (which serves results) and the workers (which store them).
 */
export interface ResultStore {
  put(key: string, data: Buffer): Promise<void>;
  open(key: string): Promise<{ stream: Readable; size: number } | null>;
  remove(key: string): Promise<void>;
}

/** Keys are `<job_id>.<ext>`; anything else is refused so a key can never escape the directory. */
const SAFE_KEY = /^job_[0-9a-f]{16}\.(png|jpeg|webp)$/;

export function assertResultKey(key: string): void {
  if (!SAFE_KEY.test(key)) throw new Error(`not a result key: ${key}`);
}

export function createDiskResultStore(dir: string): ResultStore {
  const file = (key: string) => {
    assertResultKey(key);
    return path.join(dir, key);
  };
  let ready: Promise<unknown> | undefined;
  return {
    async put(key, data) {
      ready ??= mkdir(dir, { recursive: true });
      await ready;
      // A new file is written in place: no reader opens a result before the job's record says it completed,
      // which the worker records only once this has resolved. (A temporary file and a rename for every job
      // cost a fifth of the worker's CPU at zero inference time.)
      const target = file(key);
      try {
        await writeFile(target, data, { flag: 'wx' });
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      // An earlier attempt of the job left a file (it died half-way, or another worker ran it after a stall and
      // someone may be reading it): replaced whole, so a reader never sees half a file.
      const temp = `${target}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(temp, data);
      await rename(temp, target);
    },
    async open(key) {
      try {
        const target = file(key);
        const { size } = await stat(target);
        return { stream: createReadStream(target), size };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async remove(key) {
      await rm(file(key), { force: true });
    },
  };
}
