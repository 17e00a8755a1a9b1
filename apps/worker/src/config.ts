import { hostname } from 'node:os';
import {
  envFields,
  envFlag,
  parseEnv,
  publicBaseUrlOf,
  resultBucketRequired,
  resultDirOf,
  resultStoreEnvFields,
} from '@castforge/core';
import { BackendName } from '@castforge/schemas';
import { z } from 'zod';
import { type A1111ControlNetNames, DEFAULT_A1111_CONTROLNET } from './inference/a1111-controlnet';
import { type InputFetcherOptions } from './inputs/input-image';
import { type PromptEnhancerOptions } from './prompts/prompt-enhancer';

const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

export const WorkerConfig = z
  .object({
    ...envFields,
    /** Port of the worker's own /healthz, /readyz and /metrics (SPEC §10). 0 picks a free port. */
    WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9091),
    WORKER_ID: z.string().min(1).max(128).default(`${hostname()}:${process.pid}`),
    /**
     * `simulated` renders real images without a GPU; `a1111` drives AUTOMATIC1111/Forge servers; `comfyui`
     * drives ComfyUI servers with a workflow template per operation (COMFYUI_WORKFLOWS_DIR).
     */
    INFERENCE_BACKEND: BackendName.default('simulated'),
    /** One URL per GPU server. The simulated backend defaults to one endpoint. */
    INFERENCE_URLS: list.optional(),
    /** Jobs in flight at once per endpoint (a GPU runs one; a second one queued there rarely helps). */
    INFERENCE_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(1),
    /** HTTP Basic credentials for A1111's --api-auth, as user:password (the password may hold colons). */
    INFERENCE_AUTH: z
      .string()
      .regex(/^[^:]+:.+$/, 'must be user:password')
      .transform((value) => {
        const colon = value.indexOf(':');
        return { username: value.slice(0, colon), password: value.slice(colon + 1) };
      })
      .optional(),
    /**
     * One extra header, `Name: value`, sent on every request to the GPU servers (and ComfyUI's websocket), for
     * the reverse proxy in front of them: `Authorization: Bearer …`, `X-Api-Key: …`.
     */
    INFERENCE_AUTH_HEADER: z
      .string()
      .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:\s*\S/, 'must be "Header-Name: value"')
      .transform((value) => {
        const colon = value.indexOf(':');
        return { name: value.slice(0, colon), value: value.slice(colon + 1).trim() };
      })
      .optional(),
    /** ComfyUI: the folder of API-format workflow templates, one `<operation>.json` each (relative to the cwd). */
    COMFYUI_WORKFLOWS_DIR: z.string().min(1).optional(),
    SIMULATED_STEP_MS: z.coerce.number().min(0).max(60_000).default(100),
    /** When set, every simulated image takes exactly this long, whatever its steps (benchmarks). */
    SIMULATED_IMAGE_MS: z.coerce.number().min(0).max(600_000).optional(),
    /** A job attempt that runs longer is aborted and fails with TIMEOUT (retryable). */
    JOB_TIMEOUT_SECONDS: z.coerce.number().min(1).max(86_400).default(300),
    WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(30_000),
    WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(500).default(15_000),
    WORKER_MAX_STALLED_COUNT: z.coerce.number().int().min(0).max(10).default(2),
    PUBLIC_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    ...resultStoreEnvFields,
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(30_000),
    CALLBACK_ALLOW_LOOPBACK: envFlag.default(false),
    /** A receiver must answer 2xx within this long, or the attempt failed. */
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** Webhook attempts in flight at once in this process, and at most per receiving host. */
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(50),
    WEBHOOK_PER_HOST_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(8),
    /** Webhook attempts in flight for one tenant, so one tenant's dead receivers leave slots for others. */
    WEBHOOK_PER_TENANT_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
    /** Seconds before each retry; the default spreads 12 attempts over about 24 hours. */
    WEBHOOK_RETRY_DELAYS: list
      .transform((items) => items.map(Number))
      .pipe(z.array(z.number().min(0).max(86_400)).min(1))
      .default([5, 30, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800]),
    /** Input images (SPEC §3b): reading stops, and the job fails INPUT_INVALID, past this many bytes. */
    INPUT_IMAGE_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(256 * 1024 * 1024)
      .default(20 * 1024 * 1024),
    /** The whole fetch of one input image (DNS, connect, body) must end within this. */
    INPUT_IMAGE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(15_000),
    /** Admit input image URLs on loopback (plain http included). For local testing only. */
    INPUT_ALLOW_LOOPBACK: envFlag.default(false),
    /** An OpenAI-compatible server for enhance_prompt (SPEC §12); unset: prompts are used as given. */
    PROMPT_ENHANCER_URL: z.url({ protocol: /^https?$/ }).optional(),
    PROMPT_ENHANCER_MODEL: z.string().min(1).max(200).optional(),
    PROMPT_ENHANCER_API_KEY: z.string().min(1).optional(),
    PROMPT_ENHANCER_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
    /** sd-webui-controlnet names for the a1111 backend's lock and instamodel (Forge differs; see .env.example). */
    A1111_INSTANTID_EMBEDDING_MODULE: z
      .string()
      .min(1)
      .default(DEFAULT_A1111_CONTROLNET.instantidEmbeddingModule),
    A1111_INSTANTID_EMBEDDING_MODEL: z
      .string()
      .min(1)
      .default(DEFAULT_A1111_CONTROLNET.instantidEmbeddingModel),
    A1111_INSTANTID_KEYPOINTS_MODULE: z
      .string()
      .min(1)
      .default(DEFAULT_A1111_CONTROLNET.instantidKeypointsModule),
    A1111_INSTANTID_KEYPOINTS_MODEL: z
      .string()
      .min(1)
      .default(DEFAULT_A1111_CONTROLNET.instantidKeypointsModel),
    A1111_FACEID_MODULE: z.string().min(1).default(DEFAULT_A1111_CONTROLNET.faceidModule),
    A1111_FACEID_MODEL: z.string().min(1).default(DEFAULT_A1111_CONTROLNET.faceidModel),
    A1111_PULID_MODULE: z.string().min(1).default(DEFAULT_A1111_CONTROLNET.pulidModule),
    A1111_PULID_MODEL: z.string().min(1).default(DEFAULT_A1111_CONTROLNET.pulidModel),
  })
  .check(resultBucketRequired)
  // Checked on the whole object, and run even when other variables are bad (`when`), so the one start-up
  // message names this too.
  .check(
    z.refine<{ INFERENCE_BACKEND?: unknown; INFERENCE_URLS?: unknown }>(
      (c) =>
        (c.INFERENCE_BACKEND !== 'a1111' && c.INFERENCE_BACKEND !== 'comfyui') ||
        (Array.isArray(c.INFERENCE_URLS) && c.INFERENCE_URLS.length > 0),
      {
        path: ['INFERENCE_URLS'],
        message:
          'is required for the a1111 and comfyui backends (comma-separated base URLs, one per GPU server)',
        when: () => true,
      },
    ),
    z.refine<{ INFERENCE_BACKEND?: unknown; COMFYUI_WORKFLOWS_DIR?: unknown }>(
      (c) => c.INFERENCE_BACKEND !== 'comfyui' || typeof c.COMFYUI_WORKFLOWS_DIR === 'string',
      {
        path: ['COMFYUI_WORKFLOWS_DIR'],
        message: 'is required for the comfyui backend (a folder of <operation>.json workflow templates)',
        when: () => true,
      },
    ),
  )
  .check(
    z.refine<{ PROMPT_ENHANCER_URL?: unknown; PROMPT_ENHANCER_MODEL?: unknown }>(
      (c) => c.PROMPT_ENHANCER_URL === undefined || c.PROMPT_ENHANCER_MODEL !== undefined,
      {
        path: ['PROMPT_ENHANCER_MODEL'],
        message:
          'is required with PROMPT_ENHANCER_URL (llama.cpp accepts any name; Ollama and OpenAI need theirs)',
        when: () => true,
      },
    ),
  )
  .transform((c) => ({
    ...c,
    // A GPU backend without URLs was refused above, so only the simulated one can be left without.
    INFERENCE_URLS: c.INFERENCE_URLS?.length ? c.INFERENCE_URLS : ['simulated://0'],
    PUBLIC_BASE_URL: publicBaseUrlOf(c),
    RESULT_DIR: resultDirOf(c),
  }));
export type WorkerConfig = z.infer<typeof WorkerConfig>;

export const loadConfig = (env: NodeJS.ProcessEnv = process.env): WorkerConfig => parseEnv(WorkerConfig, env);

/** createInputFetcher's options (also for logo_url). */
export const inputFetcherOptionsOf = (c: WorkerConfig): InputFetcherOptions => ({
  allowLoopback: c.INPUT_ALLOW_LOOPBACK,
  maxBytes: c.INPUT_IMAGE_MAX_BYTES,
  timeoutMs: c.INPUT_IMAGE_TIMEOUT_MS,
});

/** createPromptEnhancer's options, less the logger. */
export const promptEnhancerOptionsOf = (c: WorkerConfig): Omit<PromptEnhancerOptions, 'logger'> => ({
  url: c.PROMPT_ENHANCER_URL,
  model: c.PROMPT_ENHANCER_MODEL,
  apiKey: c.PROMPT_ENHANCER_API_KEY,
  timeoutMs: c.PROMPT_ENHANCER_TIMEOUT_MS,
});

/** createA1111Backend's `controlnet` option. */
export const a1111ControlNetOf = (c: WorkerConfig): A1111ControlNetNames => ({
  instantidEmbeddingModule: c.A1111_INSTANTID_EMBEDDING_MODULE,
  instantidEmbeddingModel: c.A1111_INSTANTID_EMBEDDING_MODEL,
  instantidKeypointsModule: c.A1111_INSTANTID_KEYPOINTS_MODULE,
  instantidKeypointsModel: c.A1111_INSTANTID_KEYPOINTS_MODEL,
  faceidModule: c.A1111_FACEID_MODULE,
  faceidModel: c.A1111_FACEID_MODEL,
  pulidModule: c.A1111_PULID_MODULE,
  pulidModel: c.A1111_PULID_MODEL,
});
