/**
 * A worker process whose ComfyUI templates the server cannot run stops at start (issue 11): it checks every
 * template against the server's GET /object_info, and a node class that is not installed, or an input name
 * the node does not have, ends the process with exit code 1 and one message on stderr naming the template,
 * the node and the input, instead of failing jobs later. A real worker process (apps/worker/dist) is started
 * against the stub ComfyUI, as an operator would start one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestServices, openServices, spawnWorker, waitFor } from '@castforge/testkit';
import { type ComfyStub, startComfyStub } from '@castforge/testkit/comfyui-stub';
import { EXAMPLES_DIR, templatesDir } from '@castforge/testkit/comfyui-kit';
import { liveWorkers, redisKeys } from '@castforge/core';

/** An upscale workflow on a model-based upscaler, whose node class the stub (like a bare ComfyUI) lacks. */
const UPSCALE_WITH_MODEL = {
  '1': { class_type: 'ETN_LoadImageBase64', inputs: { image: '{{image:input_image}}' } },
  '2': {
    class_type: 'UpscaleModelLoaderX',
    inputs: { model_name: '4x-UltraSharp.pth' },
    _meta: { title: 'Upscaler model' },
  },
  '3': { class_type: 'SaveImageWebsocket', inputs: { images: ['1', 0] } },
};

describe('a comfyui worker whose templates the server cannot run', () => {
  let services: TestServices;
  let stub: ComfyStub;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    services = await openServices('story-comfyui-startup');
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => services?.close());

  /** Starts a worker process on these templates against a stub; resolves when it exits (or fails the test). */
  async function startWorkerOn(
    shipped: string[],
    extra: Record<string, unknown>,
    stubOptions: Parameters<typeof startComfyStub>[0] = {},
  ) {
    stub = await startComfyStub(stubOptions);
    cleanups.push(() => stub.close());
    const folder = templatesDir(shipped, extra);
    cleanups.push(folder.cleanup);
    const worker = spawnWorker(
      services,
      {
        INFERENCE_BACKEND: 'comfyui',
        INFERENCE_URLS: stub.url,
        COMFYUI_WORKFLOWS_DIR: folder.dir,
        LOG_LEVEL: 'silent',
      },
      { captureStderr: true },
    );
    cleanups.push(() => worker.stop('SIGKILL'));
    return worker;
  }

  /** The lines the process wrote to stderr. */
  const linesOf = (text: string) => text.split('\n').filter((line) => line.trim() !== '');

  it('a node pack not installed on the server: exit 1, one line naming lock.json, node 9 and its class, and the pack to install', async () => {
    const worker = await startWorkerOn(['generate.json', 'lock.json'], {}, { without: ['ApplyInstantID'] });

    const code = await worker.exited;

    expect(code).toBe(1);
    const lines = linesOf(worker.stderr());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^worker failed to start: /);
    expect(lines[0]).toContain(
      'lock.json node 9 (ApplyInstantID "Apply InstantID"): node class ApplyInstantID is not installed (from cubiq/ComfyUI_InstantID)',
    );
    expect(lines[0]).toContain(stub.url.replace('http://', ''));
    // It read /object_info and stopped there: no prompt reached the server.
    expect(stub.requests.map((r) => r.path)).toContain('/object_info');
    expect(stub.submissions).toEqual([]);
  });

  it('an operator’s template naming a node class the server lacks: exit 1, one line naming the file, node and class', async () => {
    const worker = await startWorkerOn(['generate.json'], { 'upscale.json': UPSCALE_WITH_MODEL });

    expect(await worker.exited).toBe(1);
    const lines = linesOf(worker.stderr());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^worker failed to start: /);
    expect(lines[0]).toContain(
      'upscale.json node 2 (UpscaleModelLoaderX "Upscaler model"): node class UpscaleModelLoaderX is not installed',
    );
    expect(stub.submissions).toEqual([]);
  });

  it('an input name the node does not have: exit 1, one line naming the file, node and input', async () => {
    const renamed = JSON.parse(readFileSync(join(EXAMPLES_DIR, 'generate.json'), 'utf8')) as Record<
      string,
      { inputs: Record<string, unknown> }
    >;
    const { sampler_name: sampler, ...rest } = renamed['3']!.inputs;
    renamed['3']!.inputs = { ...rest, sampler };
    const worker = await startWorkerOn([], { 'generate.json': renamed });

    expect(await worker.exited).toBe(1);
    const lines = linesOf(worker.stderr());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'generate.json node 3 (KSampler "Sampler") input "sampler": KSampler has no such input',
    );
    // Leaving sampler_name out is a problem of its own, reported in the same message.
    expect(lines[0]).toContain(
      'generate.json node 3 (KSampler "Sampler") input "sampler_name": required by KSampler but not set',
    );
  });

  it('the same folder on a server that has every node: the worker starts, advertises generate and lock, and stops cleanly', async () => {
    const worker = await startWorkerOn(['generate.json', 'lock.json'], {});
    const keys = redisKeys(services.prefix);

    const beat = await waitFor(
      async () => {
        if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.stderr()}`);
        return [...(await liveWorkers(services.redis, keys, 60_000)).values()][0];
      },
      { timeoutMs: 20_000, what: 'the worker’s heartbeat' },
    );
    expect(beat).toMatchObject({ backend: 'comfyui' });
    expect([...(beat.operations ?? [])].sort()).toEqual(['generate', 'lock']);

    expect(await worker.stop('SIGTERM')).toBe(0);
    expect(linesOf(worker.stderr())).toEqual([]);
  });
});
