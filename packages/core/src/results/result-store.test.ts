import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createDiskResultStore } from './result-store';

describe('the disk result store', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'castforge-results-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const KEY = 'job_0123456789abcdef.png';

  it('stores a new result under its key and serves it back', async () => {
    const store = createDiskResultStore(dir);
    await store.put(KEY, Buffer.from('first'));
    expect(await readFile(path.join(dir, KEY), 'utf8')).toBe('first');
    const opened = await store.open(KEY);
    expect(opened?.size).toBe(5);
    opened?.stream.destroy();
  });

  it('replaces what an earlier attempt left whole, leaving no temporary file', async () => {
    const store = createDiskResultStore(dir);
    await writeFile(path.join(dir, KEY), 'half of a crashed attempt');
    await store.put(KEY, Buffer.from('second attempt'));
    expect(await readFile(path.join(dir, KEY), 'utf8')).toBe('second attempt');
    expect(await readdir(dir)).toEqual([KEY]);
  });

  it('never changes a result under a reader: a later attempt of the job replaces the file, not its bytes', async () => {
    const store = createDiskResultStore(dir);
    await store.put(KEY, Buffer.from('the completed result'));
    const reader = await store.open(KEY);
    await store.put(KEY, Buffer.from('a duplicate run after a stall'));
    const chunks: Buffer[] = [];
    for await (const chunk of reader!.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('the completed result');
  });

  it('refuses a key that is not a result key', async () => {
    const store = createDiskResultStore(dir);
    await expect(store.put('../escape.png', Buffer.from('x'))).rejects.toThrow(/not a result key/);
  });
});
