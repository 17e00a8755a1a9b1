import { randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, request as httpRequest } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { waitFor } from './wait';

/**
 * What the official ImagePipeline client (`imagepipeline` 0.4.0 for Python, Model-Pipelines/imagepipeline-
 * python) puts on the wire and what it makes of the answers, replayed byte for byte so a story can check the
 * drop-in promise without Python in the suite (../shared/notes/imagepipeline-sdk.md). Its transport is a
 * `requests.Session`: the headers below on every request, bodies serialised by Python's `json.dumps`
 * (`", "` and `": "` separators, non-ASCII escaped), and errors mapped as `_Transport._handle` maps them.
 */

/** A Python float in a body: `json.dumps(0.0)` is `0.0`, which a JS number cannot say. */
export class PyFloat {
  constructor(readonly value: number) {}
}
export const pyFloat = (value: number) => new PyFloat(value);

/** `json.dumps(value)` with Python's defaults (separators `, ` and `: `, ensure_ascii). */
export function pyJson(value: unknown): string {
  if (value instanceof PyFloat) {
    const text = String(value.value);
    return /[.eE]/.test(text) ? text : `${text}.0`;
  }
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return JSON.stringify(value).replace(/[\u007f-\uffff]/g, asciiEscape);
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${pyJson(k)}: ${pyJson(v)}`).join(', ')}}`;
  }
  throw new Error(`pyJson: cannot serialise ${typeof value}`);
}
const asciiEscape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** Python's `int(text)`: an optional sign and digits (underscores between them), else ValueError. */
export function pythonInt(text: string): number {
  const trimmed = text.trim();
  if (!/^[+-]?\d+(?:_\d+)*$/.test(trimmed))
    throw new Error(`ValueError: invalid literal for int(): '${text}'`);
  return Number(trimmed.replace(/_/g, ''));
}

/** `APIError(status_code, message, error_code)`: any non-2xx other than 401 and 429. */
export class SdkApiError extends Error {
  override name = 'APIError';
  constructor(
    readonly statusCode: number,
    message: string,
    readonly errorCode: string | null,
    readonly answer: SdkAnswer,
  ) {
    super(message);
  }
}
/** `AuthenticationError(message)`: a 401. */
export class SdkAuthenticationError extends Error {
  override name = 'AuthenticationError';
}
/** `RateLimitError("Rate limit exceeded.", retry_after=int(Retry-After or 60))`: a 429. */
export class SdkRateLimitError extends Error {
  override name = 'RateLimitError';
  constructor(
    readonly retryAfter: number,
    readonly answer: SdkAnswer,
  ) {
    super('Rate limit exceeded.');
  }
}
/** `JobFailedError(job_id, error)`: a polled status said `failed`. */
export class SdkJobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(
    readonly jobId: string,
    readonly error: string | null,
    readonly status: SdkStatus,
  ) {
    super(`job ${jobId} failed: ${error}`);
  }
}

/** The fields of a status the client's `Job` reads (`Job._from_status_response`); missing ones are None. */
export const SDK_JOB_FIELDS = [
  'job_id',
  'status',
  'result_url',
  'error',
  'progress',
  'result_mime_type',
  'queue_wait_seconds',
  'inference_time_seconds',
  'total_elapsed_seconds',
  'estimated_time_seconds',
  'processing_time_seconds',
  'queue_position',
  'queue_metrics',
  'queue_metrics_hint',
  'failure_reason_code',
  'retryable',
  'warnings',
  'prompt_hash',
  'cost_usd',
  'balance_remaining_usd',
  'cutout_url',
] as const;
export type SdkJob = Record<(typeof SDK_JOB_FIELDS)[number], unknown> & { endpoint: string };

/** A status as the server sent it (the client keeps the dict; the story also reads castforge's fields). */
export type SdkStatus = Record<string, unknown> & { job_id: string; status: string };

export interface SdkAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  bytes: Buffer;
}

/** `Job._from_status_response(data, endpoint)`: the SDK's fields, None (null) when the status lacks one. */
export const jobOf = (data: SdkStatus, endpoint: string): SdkJob =>
  ({
    ...Object.fromEntries(SDK_JOB_FIELDS.map((field) => [field, data[field] ?? null])),
    job_id: data.job_id ?? '',
    status: data.status ?? 'queued',
    endpoint,
  }) as SdkJob;

export interface SdkClientOptions {
  /** The client polls every 3 s; a story polls faster (the outcome never depends on the interval). */
  pollIntervalMs?: number;
  /** The client gives up after 300 s; a story's deadline is shorter. */
  pollTimeoutMs?: number;
}

/** `ImagePipeline(api_key, base_url=...)`, replayed. */
export function sdkClient(baseUrl: string, apiKey: string, options: SdkClientOptions = {}) {
  const base = baseUrl.replace(/\/+$/, '');
  const sessionHeaders = {
    'User-Agent': 'imagepipeline-python/0.4.0',
    'Accept-Encoding': 'gzip, deflate',
    Accept: '*/*',
    Connection: 'keep-alive',
    'X-API-Key': apiKey,
    'Content-Type': 'application/json',
  };

  /** One request as requests.Session sends it. */
  const send = (method: string, path: string, body?: Buffer | string, headers = sessionHeaders) =>
    new Promise<SdkAnswer>((resolve, reject) => {
      const url = new URL(`${base}${path}`);
      const req = httpRequest(
        url,
        {
          method,
          headers: {
            ...headers,
            ...(body !== undefined ? { 'Content-Length': String(Buffer.byteLength(body)) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            let bytes = Buffer.concat(chunks);
            // requests decodes what it asked for with Accept-Encoding.
            const encoding = res.headers['content-encoding'];
            if (encoding === 'gzip') bytes = gunzipSync(bytes);
            else if (encoding === 'deflate') bytes = inflateSync(bytes);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: bytes.toString('utf8'),
              bytes,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** `_Transport._parse_error`: message from message, else error, else detail, else the raw text. */
  const parseError = (answer: SdkAnswer): { message: string; errorCode: string | null } => {
    let message: unknown;
    let errorCode: unknown = null;
    try {
      const data: unknown = JSON.parse(answer.text);
      if (data && typeof data === 'object' && !Array.isArray(data)) {
        const d = data as Record<string, unknown>;
        message = d.message || d.error || d.detail;
        errorCode = d.error_code ?? null;
      }
    } catch {
      // Not JSON: the raw text is the message.
    }
    if (!message) message = answer.text || `HTTP ${answer.status}`;
    return {
      message: typeof message === 'string' ? message : JSON.stringify(message),
      errorCode: typeof errorCode === 'string' ? errorCode : null,
    };
  };

  /** `_Transport._handle`. */
  const handle = (answer: SdkAnswer): Record<string, unknown> => {
    if (answer.status === 401) throw new SdkAuthenticationError(parseError(answer).message);
    if (answer.status === 429) {
      const header = answer.headers['retry-after'];
      throw new SdkRateLimitError(pythonInt(typeof header === 'string' ? header : '60'), answer);
    }
    if (answer.status === 204) return {};
    if (answer.status < 200 || answer.status >= 400) {
      const { message, errorCode } = parseError(answer);
      throw new SdkApiError(answer.status, message, errorCode, answer);
    }
    return JSON.parse(answer.text) as Record<string, unknown>;
  };

  const post = async (path: string, body: unknown) => handle(await send('POST', path, pyJson(body)));
  const get = async (path: string) => handle(await send('GET', path));

  /** `_Transport.poll`: GET /{endpoint}/status/{job_id} until completed (a Job) or failed (raises). */
  const poll = async (endpoint: string, jobId: string, onStatus?: (status: SdkStatus) => void) => {
    const last = await waitFor(
      async () => {
        const data = (await get(`/${endpoint}/status/${jobId}`)) as SdkStatus;
        onStatus?.(data);
        return data.status === 'completed' || data.status === 'failed' ? data : undefined;
      },
      {
        timeoutMs: options.pollTimeoutMs ?? 30_000,
        intervalMs: options.pollIntervalMs ?? 50,
        what: `job ${jobId} at /${endpoint} to complete or fail`,
      },
    );
    if (last.status === 'failed')
      throw new SdkJobFailedError(jobId, (last.error as string | null) ?? null, last);
    return { job: jobOf(last, endpoint), status: last };
  };

  /** `_Transport.submit` (wait=False): POST /{endpoint}, a queued Job. */
  const submit = async (endpoint: string, body: Record<string, unknown>) => {
    const data = await post(`/${endpoint}`, body);
    return { job_id: data.job_id as string, status: (data.status as string) ?? 'queued', endpoint, data };
  };

  /** `_Transport.submit_and_poll` (wait=True). */
  const submitAndPoll = async (
    endpoint: string,
    body: Record<string, unknown>,
    onStatus?: (status: SdkStatus) => void,
  ) => {
    const { job_id } = await submit(endpoint, body);
    return poll(endpoint, job_id, onStatus);
  };

  return {
    baseUrl: base,
    send,
    post,
    get,
    submit,
    poll,
    submitAndPoll,
    /** `ImagePipeline.account()`. */
    account: () => get('/v1/user/details'),
    /**
     * `upload.image(file)`: `post_file` drops Content-Type from a copy of the session headers, but requests
     * merges the session's own back in, so the multipart body goes out labelled `application/json`
     * (checked against requests 2.x `Session.prepare_request`). `asSent: false` labels it correctly instead.
     */
    uploadImage: async (data: Buffer, filename: string, contentType: string, asSent = true) => {
      const boundary = randomBytes(16).toString('hex');
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
            `Content-Type: ${contentType}\r\n\r\n`,
        ),
        data,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const headers = {
        ...sessionHeaders,
        'Content-Type': asSent ? 'application/json' : `multipart/form-data; boundary=${boundary}`,
      };
      return handle(await send('POST', '/upload/image/v1', body, headers));
    },
  };
}
export type SdkClient = ReturnType<typeof sdkClient>;

/** The SDK's resources' bodies: the keys always sent with the client's defaults, then the optional ones given. */
export const sdkBody = {
  /** `generate.image(prompt, width=1024, height=1024, seed=-1, output_format="webp", enhance_prompt=False, …)` */
  generateImage: (
    prompt: string,
    opts: {
      width?: number;
      height?: number;
      seed?: number;
      output_format?: string;
      enhance_prompt?: boolean;
      num_inference_steps?: number;
      guidance_scale?: number | PyFloat;
      logo_url?: string;
      profile_id?: string;
      callback_url?: string;
    } = {},
  ) => ({
    prompt,
    width: opts.width ?? 1024,
    height: opts.height ?? 1024,
    seed: opts.seed ?? -1,
    output_format: opts.output_format ?? 'webp',
    enhance_prompt: opts.enhance_prompt ?? false,
    ...(opts.num_inference_steps !== undefined && { num_inference_steps: opts.num_inference_steps }),
    ...(opts.guidance_scale !== undefined && { guidance_scale: opts.guidance_scale }),
    ...(opts.logo_url && { logo_url: opts.logo_url }),
    ...(opts.profile_id && { profile_id: opts.profile_id }),
    ...(opts.callback_url && { callback_url: opts.callback_url }),
  }),
  /** `identity.lock` and `identity.replace`: input_image, prompt, width/height 1024, seed −1. */
  lock: (input_image: string, prompt: string, opts: { profile_id?: string; seed?: number } = {}) => ({
    input_image,
    prompt,
    width: 1024,
    height: 1024,
    seed: opts.seed ?? -1,
    ...(opts.profile_id && { profile_id: opts.profile_id }),
  }),
  /** `identity.faceswap`: source, target, upscale 1.5, restore_weight 0.5. */
  faceswap: (source: string, target: string, opts: { profile_id?: string } = {}) => ({
    source,
    target,
    upscale: pyFloat(1.5),
    restore_weight: pyFloat(0.5),
    ...(opts.profile_id && { profile_id: opts.profile_id }),
  }),
  /** `identity.instamodel(face_image=…)`: input_face, prompt, 768×1024, output_format webp. */
  instamodel: (input_face: string, prompt: string, opts: { profile_id?: string } = {}) => ({
    input_face,
    prompt,
    width: 768,
    height: 1024,
    output_format: 'webp',
    ...(opts.profile_id && { profile_id: opts.profile_id }),
  }),
  /** `identity.tryon`: person_image, clothing_image, gender woman, 832×1248, seed −1, webp. */
  tryon: (person_image: string, clothing_image: string, opts: { profile_id?: string } = {}) => ({
    person_image,
    clothing_image,
    gender: 'woman',
    width: 832,
    height: 1248,
    seed: -1,
    output_format: 'webp',
    ...(opts.profile_id && { profile_id: opts.profile_id }),
  }),
  /**
   * `identity.create_profile`: name, seed_strategy ("random"), prompt_template_mode ("suffix"), then each
   * optional field given, in the client's order.
   */
  createProfile: (
    name: string,
    opts: {
      seed_strategy?: string;
      prompt_template_mode?: string;
      tags?: string[];
      description?: string;
      prompt_template?: string;
      negative_prompt?: string;
      cfg_scale?: PyFloat | number;
      steps?: number;
      width?: number;
      height?: number;
      output_format?: string;
      fixed_seed?: number;
    } = {},
  ) => ({
    name,
    seed_strategy: opts.seed_strategy ?? 'random',
    prompt_template_mode: opts.prompt_template_mode ?? 'suffix',
    ...(opts.tags?.length && { tags: opts.tags }),
    ...(opts.description && { description: opts.description }),
    ...(opts.prompt_template && { prompt_template: opts.prompt_template }),
    ...(opts.negative_prompt && { negative_prompt: opts.negative_prompt }),
    ...(opts.cfg_scale !== undefined && { cfg_scale: opts.cfg_scale }),
    ...(opts.steps !== undefined && { steps: opts.steps }),
    ...(opts.width !== undefined && { width: opts.width }),
    ...(opts.height !== undefined && { height: opts.height }),
    ...(opts.output_format && { output_format: opts.output_format }),
    ...(opts.fixed_seed !== undefined && { fixed_seed: opts.fixed_seed }),
  }),
};

/** The seed's profile (SPEC §2's example) as `create_profile(...)` sends it. */
export const SEED_TEMPLATE =
  'Caucasian woman, late 20s, fair porcelain skin, blonde hair, blue eyes, light natural makeup, warm expression';
export const seedProfileBody = () =>
  sdkBody.createProfile('Caucasian Woman', {
    description: 'Reusable casting identity',
    prompt_template: SEED_TEMPLATE,
    prompt_template_mode: 'suffix',
    steps: 9,
    cfg_scale: pyFloat(0),
    seed_strategy: 'fixed',
    fixed_seed: 42,
    height: 1024,
    width: 1024,
    output_format: 'png',
  });
