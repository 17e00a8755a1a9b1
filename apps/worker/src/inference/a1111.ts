import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger } from '@castforge/core';
import { type FailureReasonCode } from '@castforge/schemas';
import { z } from 'zod';
import { type A1111ControlNetNames, DEFAULT_A1111_CONTROLNET, alwaysOnScripts } from './a1111-controlnet';
import {
  type Endpoint,
  type InferenceBackend,
  type InferenceRequest,
  type InferenceResult,
  InferenceError,
  abortError,
} from './inference-backend';

export interface A1111Options {
  /** The `user:pass` pair the server was started with (`--api-auth`); sent as HTTP Basic on every request. */
  auth?: { username: string; password: string };
  /** How often `/sdapi/v1/progress` is polled while a generation runs. */
  progressIntervalMs?: number;
  /** ControlNet module and model names for lock and instamodel; DEFAULT_A1111_CONTROLNET where unset. */
  controlnet?: Partial<A1111ControlNetNames>;
  logger: Logger;
}

/** Long enough for a busy server to answer, short enough that an abort never waits on a dead one. */
const INTERRUPT_TIMEOUT_MS = 2000;
/** Keeps error messages (stored in the job status) readable, and bounds whatever the backend echoes. */
const MAX_MESSAGE_CHARS = 500;

/**
 * Fields the adapter owns. `adapter.extra` is spread underneath them, so it can add any key A1111 accepts
 * (sampler_name, scheduler, alwayson_scripts, distilled_cfg_scale, …) but never replace these: the job's
 * prompt, seed, size and step count are what the status reports, and one image per request is what the
 * worker stores. `infotext` is dropped too: newer builds apply it over prompt, seed and size server-side.
 */
const OWNED_FIELDS = new Set([
  'prompt',
  'negative_prompt',
  'steps',
  'cfg_scale',
  'seed',
  'width',
  'height',
  'batch_size',
  'n_iter',
  'send_images',
  'save_images',
  'force_task_id',
  'override_settings_restore_afterwards',
  'infotext',
]);

const Txt2ImgResponse = z.object({ images: z.array(z.string()), info: z.string() });
const Txt2ImgInfo = z.object({
  seed: z.number().int().nonnegative().optional(),
  all_seeds: z.array(z.number().int().nonnegative()).optional(),
  index_of_first_image: z.number().int().nonnegative().optional(),
});
const ProgressResponse = z.object({ progress: z.number(), current_task: z.string().nullish() });
const A1111ErrorBody = z.object({
  error: z.unknown().optional(),
  detail: z.unknown().optional(),
  errors: z.unknown().optional(),
  body: z.unknown().optional(),
});

/**
 * The AUTOMATIC1111 / Forge `sdapi` backend. It runs `generate`, and `lock` and `instamodel` by sending the
 * job's face through sd-webui-controlnet units (InstantID, IP-Adapter FaceID or PuLID, per the profile's
 * `identity_adapter`; see a1111-controlnet.ts). One txt2img request per job; the HTTP request stays open for the
 * whole generation (A1111 has no job id or queue endpoint), so progress comes from polling the global
 * `/progress` route and cancellation from the global `/interrupt` route.
 *
 * Defaults: 20 steps and CFG 7. CFG 7 is A1111's own default; its API defaults to 50 steps, but 20 is the
 * UI's default and where the common samplers (Euler a, DPM++ 2M) have converged for SD 1.5/SDXL, so a job
 * that sets neither gets a normal-looking image in under half the GPU time.
 */
export function createA1111Backend({
  auth,
  progressIntervalMs = 500,
  controlnet,
  logger,
}: A1111Options): InferenceBackend {
  const names: A1111ControlNetNames = { ...DEFAULT_A1111_CONTROLNET, ...controlnet };
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (auth) {
    headers.Authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  }

  const interrupt = async (base: string, log: Logger) => {
    try {
      const res = await fetch(`${base}/sdapi/v1/interrupt`, {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(INTERRUPT_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (!res.ok) log.warn({ status: res.status }, 'a1111 refused the interrupt');
    } catch (err) {
      log.warn({ err }, 'a1111 interrupt failed; the generation may still be running');
    }
  };

  async function run(endpoint: Endpoint, request: InferenceRequest): Promise<InferenceResult> {
    const log = logger.child({ job_id: request.jobId, endpoint: endpoint.index });
    const base = endpoint.url.replace(/\/+$/, '');
    if (request.signal.aborted) throw abortError(request.signal);
    const body = await txt2imgBody(request, names, log);
    const started = Date.now();

    // Interrupt only while our request is open: the route is global, so a late interrupt would stop
    // whatever the server runs next. It is awaited so that it lands before the endpoint gets another job.
    const controller = new AbortController();
    let interrupting: Promise<void> | undefined;
    const onAbort = () => {
      interrupting = interrupt(base, log);
      controller.abort(request.signal.reason);
    };
    if (request.signal.aborted) throw abortError(request.signal);
    request.signal.addEventListener('abort', onAbort, { once: true });
    const progress = pollProgress({ base, headers, intervalMs: progressIntervalMs, request });

    let status: number;
    let text: string;
    try {
      const res = await fetch(`${base}/sdapi/v1/txt2img`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: controller.signal,
        // A redirect is a deployment mistake (wrong scheme or path); following it could turn the POST into a
        // GET or drop the credentials, so it is reported instead.
        redirect: 'manual',
      });
      status = res.status;
      text = await res.text();
      if (status >= 300 && status < 400)
        text = `redirected to ${res.headers.get('location') ?? '(no Location)'}`;
    } catch (err) {
      if (request.signal.aborted) {
        await interrupting;
        throw abortError(request.signal);
      }
      const message = `a1111 at ${hostOf(base)} is unreachable: ${causeOf(err)}`;
      throw new InferenceError('MODEL_UNAVAILABLE', message, { cause: err });
    } finally {
      request.signal.removeEventListener('abort', onAbort);
      progress.stop();
    }

    if (status < 200 || status >= 300)
      throw new InferenceError(codeForStatus(status, text), failureMessage(status, text));
    const result = parseTxt2Img(text);
    progress.report(1);
    log.debug(
      { seed: result.seed, bytes: result.image.length, ms: Date.now() - started },
      'a1111 txt2img done',
    );
    return result;
  }

  return {
    name: 'a1111',
    defaults: { steps: 20, guidance: 7 },
    operations: new Set(['generate', 'lock', 'instamodel']),
    run,
  };
}

/**
 * The txt2img body: `adapter.extra` first, then every field the adapter owns (see OWNED_FIELDS), and for
 * lock and instamodel the face's ControlNet units ahead of any the operator put in `extra.alwayson_scripts`.
 */
async function txt2imgBody(
  request: InferenceRequest,
  names: A1111ControlNetNames,
  log: Logger,
): Promise<Record<string, unknown>> {
  const { model, loras = [], extra = {} } = request.adapter ?? {};
  const ignored = Object.keys(extra).filter((key) => OWNED_FIELDS.has(key));
  if (ignored.length) log.warn({ ignored }, 'adapter.extra may not override these txt2img fields');
  const passed = Object.fromEntries(Object.entries(extra).filter(([key]) => !OWNED_FIELDS.has(key)));

  // extra.override_settings (sd_vae, CLIP_stop_at_last_layers, forge_additional_modules…) is kept, under the
  // profile's checkpoint; restoring afterwards keeps one profile's settings from leaking into the next job.
  const extraSettings = isRecord(extra.override_settings) ? extra.override_settings : {};
  const overrideSettings = model ? { ...extraSettings, sd_model_checkpoint: model } : extraSettings;
  const tokens = loras.map((lora) => `<lora:${lora.name}:${lora.weight}>`);

  const scripts = await alwaysOnScripts(request, extra.alwayson_scripts, names);
  return {
    ...passed,
    ...(scripts && { alwayson_scripts: scripts }),
    prompt: [request.prompt, ...tokens].filter(Boolean).join(' '),
    negative_prompt: request.negativePrompt ?? '',
    steps: request.steps,
    cfg_scale: request.guidance,
    seed: request.seed,
    width: request.width,
    height: request.height,
    batch_size: 1,
    n_iter: 1,
    send_images: true,
    save_images: false,
    force_task_id: request.jobId,
    ...(Object.keys(overrideSettings).length
      ? { override_settings: overrideSettings, override_settings_restore_afterwards: true }
      : { override_settings: undefined }),
  };
}

/** Polls the global progress route; values of another task (newer builds name it) are skipped. */
function pollProgress(deps: {
  base: string;
  headers: Record<string, string>;
  intervalMs: number;
  request: InferenceRequest;
}) {
  const { base, headers, intervalMs, request } = deps;
  const stopped = new AbortController();
  let last = 0;
  const report = (fraction: number) => {
    const value = Math.min(1, Math.max(0, fraction));
    if (!(value > last)) return;
    last = value;
    request.onProgress(value);
  };

  const loop = async () => {
    while (!stopped.signal.aborted) {
      try {
        await sleep(intervalMs, undefined, { signal: stopped.signal });
        const res = await fetch(`${base}/sdapi/v1/progress?skip_current_image=true`, {
          headers,
          signal: AbortSignal.any([stopped.signal, AbortSignal.timeout(Math.max(intervalMs * 4, 2000))]),
        });
        if (!res.ok) {
          await res.body?.cancel();
          continue;
        }
        const parsed = ProgressResponse.safeParse(await res.json());
        if (stopped.signal.aborted || !parsed.success) continue;
        const task = parsed.data.current_task;
        if (typeof task === 'string' && task !== request.jobId) continue;
        report(parsed.data.progress);
      } catch {
        // A failed poll changes nothing: progress is advisory, the txt2img request decides the outcome.
      }
    }
  };
  void loop();

  return { stop: () => stopped.abort(), report };
}

function parseTxt2Img(text: string): InferenceResult {
  let info: z.infer<typeof Txt2ImgInfo>;
  let images: string[];
  try {
    const response = Txt2ImgResponse.parse(JSON.parse(text));
    images = response.images;
    info = Txt2ImgInfo.parse(JSON.parse(response.info));
  } catch (err) {
    const message = bounded(`a1111 answered 2xx with an unreadable body: ${causeOf(err)}`);
    throw new InferenceError('MODEL_ERROR', message, { cause: err });
  }
  const seed = info.seed ?? info.all_seeds?.[0];
  if (seed === undefined) throw new InferenceError('MODEL_ERROR', 'a1111 did not report the seed it used');
  // With save_images false A1111 returns no grid, but index_of_first_image says where the images start if one
  // is there anyway.
  const encoded = images[info.index_of_first_image ?? 0] ?? images[0];
  const image = encoded ? Buffer.from(encoded.replace(/^data:[^,]*,/, ''), 'base64') : Buffer.alloc(0);
  if (!looksLikeImage(image))
    throw new InferenceError('MODEL_ERROR', 'a1111 answered 2xx without a PNG, JPEG or WebP image');
  return { image, seed };
}

const looksLikeImage = (bytes: Buffer) =>
  bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) ||
  bytes.subarray(0, 3).equals(Buffer.from([0xff, 0xd8, 0xff])) ||
  (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP');

/**
 * SPEC §8 for an HTTP answer. Statuses that say the deployment is wrong (our credentials, no API on that port,
 * a proxy's timeout or rate limit, a redirect) are MODEL_UNAVAILABLE: another attempt, maybe on another
 * endpoint, can succeed. Other 4xx reject the request itself (A1111: 422 validation, 400 unknown sampler),
 * so retrying is pointless. 5xx is a failure while generating: retryable.
 */
function codeForStatus(status: number, text: string): FailureReasonCode {
  // Older builds answer an unknown sampler_name with 404, which is the profile's fault, not the deployment's.
  if (status >= 400 && status < 500 && /sampler not found/i.test(text)) return 'INPUT_INVALID';
  if (status < 400 || [401, 403, 404, 405, 408, 429].includes(status)) return 'MODEL_UNAVAILABLE';
  return status < 500 ? 'INPUT_INVALID' : 'MODEL_ERROR';
}

const hints: Record<number, string> = {
  401: ' (check the a1111 credentials against --api-auth)',
  403: ' (check the a1111 credentials against --api-auth)',
  404: ' (is the server running with --api, at this URL?)',
  405: ' (is the server running with --api, at this URL?)',
};

/** `{error, detail, errors, body}` in that order, so truncation cuts the request echo (`body`) first. */
function failureMessage(status: number, text: string): string {
  let summary = text.trim();
  try {
    const parsed = A1111ErrorBody.parse(JSON.parse(text));
    summary = Object.entries(parsed)
      .filter(([, value]) => value !== undefined && value !== null && value !== '')
      .map(([key, value]) => (key === 'error' ? asText(value) : `${key}: ${asText(value)}`))
      .join('; ');
  } catch {
    // Not A1111's JSON shape (a proxy's HTML page, say): the raw text is the best description there is.
  }
  return bounded(`a1111 answered ${status}${hints[status] ?? ''}: ${summary || '(empty body)'}`);
}

/**
 * Messages end up in the job status. Validation errors echo the request, which may carry base64 face images
 * through alwayson_scripts; those must not be kept (SPEC §9).
 */
function bounded(message: string): string {
  const redacted = message.replace(/[A-Za-z0-9+/=]{100,}/g, '<base64 elided>');
  return redacted.length > MAX_MESSAGE_CHARS ? `${redacted.slice(0, MAX_MESSAGE_CHARS - 1)}…` : redacted;
}

const asText = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Undici wraps the socket error (ECONNREFUSED, ENOTFOUND…) in `cause`; that code is what an operator needs.
 * Duck-typed, not `instanceof Error`: fetch's errors may come from another realm (jest's vm contexts do that).
 */
function causeOf(err: unknown): string {
  const cause = isRecord(err) && isRecord(err.cause) ? err.cause : undefined;
  if (typeof cause?.code === 'string') return cause.code;
  return isRecord(err) && typeof err.message === 'string' ? err.message : String(err);
}

/** Host only: an endpoint URL could carry credentials, and this text ends up in the job status. */
function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return 'an unparsable URL';
  }
}
