import { type JobQueuedResponse, type JobStatus } from '@castforge/schemas';
import supertest from 'supertest';
import { type ApiHarness, startApi } from './api';
import { type ComfyStub, type ComfyStubOptions, startComfyStub } from './comfyui-stub';
import { templatesDir } from './comfyui-kit';
import { type ImageServer, startImageServer } from './image-server';
import { hasEnded } from './jobs';
import { waitFor } from './wait';
import { type WorkerHarness, startWorker } from './worker';

/**
 * The whole stack of the ComfyUI stories (test/comfyui-*.test.ts): the API over HTTP, a worker pool with
 * INFERENCE_BACKEND=comfyui reading a templates folder of its own, the stub ComfyUI it drives, and a local
 * image server for input images (loopback admitted on both sides, as SPEC §3b allows for local testing).
 */
export interface ComfyStack {
  api: ApiHarness;
  stub: ComfyStub;
  /** The worker pool; a story may close it and put another in its place (it is closed with the stack). */
  worker: WorkerHarness;
  images: ImageServer;
  /** The templates folder the worker reads. */
  templates: string;
  close(): Promise<void>;
}

export async function startComfyStack(
  name: string,
  options: {
    /** Shipped example files to copy into the worker's folder. Default generate.json and lock.json. */
    shipped?: string[];
    /** Further template files (name → workflow). */
    extra?: Record<string, unknown>;
    stub?: ComfyStubOptions;
    apiEnv?: Record<string, string>;
    workerEnv?: Record<string, string>;
  } = {},
): Promise<ComfyStack> {
  const closers: Array<() => unknown> = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) await closer();
  };
  try {
    const folder = templatesDir(options.shipped ?? ['generate.json', 'lock.json'], options.extra);
    closers.push(folder.cleanup);
    const api = await startApi(name, { INPUT_ALLOW_LOOPBACK: 'true', ...options.apiEnv });
    closers.push(() => api.close());
    const stub = await startComfyStub(options.stub);
    closers.push(() => stub.close());
    const images = await startImageServer();
    closers.push(() => images.close());
    const stack: ComfyStack = {
      api,
      stub,
      images,
      templates: folder.dir,
      worker: await startWorker(api.services, {
        INFERENCE_BACKEND: 'comfyui',
        INFERENCE_URLS: stub.url,
        COMFYUI_WORKFLOWS_DIR: folder.dir,
        INPUT_ALLOW_LOOPBACK: 'true',
        ...options.workerEnv,
      }),
      close,
    };
    // Whichever worker the stack holds by then: a story may replace it (another templates folder).
    closers.push(() => stack.worker.close());
    return stack;
  } catch (err) {
    await close();
    throw err;
  }
}

/** POST a job as a tenant; fails the test unless it is accepted (202). */
export async function submitJob(
  api: ApiHarness,
  key: string,
  route: string,
  body: Record<string, unknown>,
): Promise<JobQueuedResponse> {
  const res = await supertest(api.server).post(route).set('X-API-Key', key).send(body);
  if (res.status !== 202)
    throw new Error(`POST ${route} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as JobQueuedResponse;
}

/** GET {route}/status/{job_id}: the job's status as its tenant sees it. */
export async function statusOf(
  api: ApiHarness,
  key: string,
  route: string,
  jobId: string,
): Promise<JobStatus> {
  const res = await supertest(api.server).get(`${route}/status/${jobId}`).set('X-API-Key', key);
  if (res.status !== 200) throw new Error(`status of ${jobId} answered ${res.status}`);
  return res.body as JobStatus;
}

/** Polls the job's own status route until it has ended. */
export function endOf(
  api: ApiHarness,
  key: string,
  route: string,
  jobId: string,
  timeoutMs = 20_000,
): Promise<JobStatus> {
  return waitFor(
    async () => {
      const status = await statusOf(api, key, route, jobId);
      return hasEnded(status) && status;
    },
    { timeoutMs, intervalMs: 25, what: `job ${jobId} to end` },
  );
}

/** The bytes behind a result link, fetched from the test's API (PUBLIC_BASE_URL names another port). */
export async function download(api: ApiHarness, resultUrl: string): Promise<Buffer> {
  const link = new URL(resultUrl);
  const res = await fetch(`${api.baseUrl}${link.pathname}${link.search}`);
  if (res.status !== 200) throw new Error(`result ${link.pathname} answered ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

type Prompt = Record<string, { class_type: string; inputs: Record<string, unknown> }>;

/** The prompt graph the stub received under this prompt id (the last submission of it). */
export function promptSent(stub: ComfyStub, promptId: string): Prompt {
  const found = stub.submissions.filter((s) => s.body.prompt_id === promptId).at(-1);
  if (!found) throw new Error(`the stub received no prompt ${promptId}`);
  return found.body.prompt as Prompt;
}
