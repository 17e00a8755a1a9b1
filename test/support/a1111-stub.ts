import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';

/**
 * A stand-in for an AUTOMATIC1111 / Forge server started with `--api` (see notes/backends.md §2.1): the
 * txt2img, progress and interrupt routes, HTTP Basic as `--api-auth` does it, and generations serialised per
 * process as A1111's queue lock does. Images are real PNGs, deterministic in prompt, seed and steps.
 */
export interface A1111StubOptions {
  /** Turns on HTTP Basic on every route, like `--api-auth user:pass`. */
  auth?: { username: string; password: string };
  /** How long one generation takes; progress walks through its steps over this time. Default 200 ms. */
  generationMs?: number;
  /** Default 0 (a free port). */
  port?: number;
  /**
   * The sd-webui-controlnet extension: its preprocessors (module_list) and models (model_list). `false`: not
   * installed, so an `alwayson_scripts.controlnet` is refused as A1111 refuses an unknown script.
   */
  controlnet?: false | { modules?: string[]; models?: string[] };
}

/** Preprocessors of sd-webui-controlnet 1.1.455 that matter here, plus a few common ones. */
export const CONTROLNET_MODULES = [
  'none',
  'canny',
  'depth_midas',
  'openpose',
  'openpose_full',
  'instant_id_face_embedding',
  'instant_id_face_keypoints',
  'ip-adapter_face_id',
  'ip-adapter_face_id_plus',
  'ip-adapter_pulid',
  'ip-adapter_clip_sdxl',
];
export const CONTROLNET_MODELS = [
  'ip-adapter_instant_id_sdxl [eb2d3ec0]',
  'control_instant_id_sdxl [c5c25a50]',
  'ip-adapter-faceid-plusv2_sdxl [187cb962]',
  'ip-adapter_pulid_sdxl_fp16 [246b4f2b]',
  'control_v11p_sd15_openpose [cab727d4]',
];

/** What the next txt2img request(s) should do instead of, or before, generating. */
export interface A1111StubScript {
  /** Answer with this status and `body` (default: A1111's error shape) without generating. */
  status?: number;
  body?: unknown;
  /** Never answer: the generation stays at step 0 until interrupted or the client goes away. */
  hang?: boolean;
  /** Wait this long before anything else (a model reload, a slow queue). */
  delayMs?: number;
  /** Rewrite a successful answer before it is sent (drop the images, break `info`, add a data: prefix…). */
  reshape?: (response: A1111StubTxt2ImgResponse) => unknown;
  /** How many upcoming requests this applies to. Default 1. */
  times?: number;
}

export interface A1111StubTxt2ImgResponse {
  images: string[];
  parameters: Record<string, unknown>;
  /** JSON string, as A1111 sends it. */
  info: string;
}

export interface A1111StubRequest {
  /** The txt2img body as received (parsed JSON). */
  body: Record<string, unknown>;
  headers: IncomingHttpHeaders;
}

/** An enabled ControlNet unit as the stub accepted it. */
export interface A1111StubUnit {
  module: string;
  model: string;
  weight: number;
  /** The decoded control image's size. */
  image: { width: number; height: number; format: string };
}

export interface A1111Stub {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Every txt2img request received, in order, including refused ones. */
  requests: A1111StubRequest[];
  /** Authorised POST /sdapi/v1/interrupt calls. */
  readonly interrupts: number;
  /** Authorised GET /sdapi/v1/progress calls. */
  readonly progressPolls: number;
  /** The enabled ControlNet units of each accepted txt2img request, in order (empty lists included). */
  units: A1111StubUnit[][];
  /** Queues behaviour for upcoming txt2img requests, consumed in order. */
  script(...steps: A1111StubScript[]): void;
  close(): Promise<void>;
}

interface Generation {
  taskId: string;
  steps: number;
  startedAt: number;
  hang: boolean;
  interrupted: boolean;
  /** Ends the generation early (interrupt). */
  end(): void;
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
};

/** A1111's error shape (modules/api/api.py handle_exception). */
const errorBody = (status: number) => ({
  error: status >= 500 ? 'RuntimeError' : 'HTTPException',
  detail: `scripted failure (${status})`,
  body: '',
  errors: `scripted failure (${status})`,
});

export async function startA1111Stub(options: A1111StubOptions = {}): Promise<A1111Stub> {
  const generationMs = options.generationMs ?? 200;
  const scripts: Array<A1111StubScript & { left: number }> = [];
  const requests: A1111StubRequest[] = [];
  const units: A1111StubUnit[][] = [];
  const controlnet =
    options.controlnet === false
      ? undefined
      : {
          modules: options.controlnet?.modules ?? CONTROLNET_MODULES,
          models: options.controlnet?.models ?? CONTROLNET_MODELS,
        };
  let interrupts = 0;
  let progressPolls = 0;
  let current: Generation | undefined;
  // A1111 runs one generation at a time (`with queue_lock`); later requests wait their turn.
  let queueTail: Promise<void> = Promise.resolve();

  const authorised = (req: IncomingMessage) => {
    if (!options.auth) return true;
    const expected = Buffer.from(
      `Basic ${Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64')}`,
    );
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  const nextScript = (): A1111StubScript => {
    const step = scripts[0];
    if (!step) return {};
    step.left -= 1;
    if (step.left <= 0) scripts.shift();
    return step;
  };

  async function txt2img(req: IncomingMessage, res: ServerResponse, gone: AbortSignal) {
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse((await readBody(req)).toString('utf8') || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch (err) {
      return json(res, 422, {
        error: 'RequestValidationError',
        detail: 'body is not a JSON object',
        body: '',
        errors: String(err),
      });
    }
    requests.push({ body, headers: req.headers });
    if (!authorised(req)) return unauthorised(res);

    const step = nextScript();
    if (step.delayMs) await sleep(step.delayMs, undefined, { signal: gone }).catch(() => undefined);
    if (gone.aborted) return;
    if (step.status !== undefined) return json(res, step.status, step.body ?? errorBody(step.status));

    const checked = await checkControlNet(body.alwayson_scripts, controlnet);
    if ('refused' in checked) {
      return json(res, 422, {
        error: checked.error,
        detail: checked.refused,
        body: '',
        errors: checked.refused,
      });
    }
    units.push(checked.units);

    const params = withDefaults(body);
    const outcome = await runGeneration(params, step.hang ?? false, gone);
    if (outcome === 'gone') return;
    const response = await render(params);
    json(res, 200, step.reshape ? step.reshape(response) : response);
  }

  async function runGeneration(params: Params, hang: boolean, gone: AbortSignal): Promise<'done' | 'gone'> {
    let release!: () => void;
    const turn = queueTail;
    queueTail = new Promise<void>((resolve) => (release = resolve));
    await turn;
    try {
      if (gone.aborted) return 'gone';
      await new Promise<void>((resolve) => {
        const end = () => {
          clearTimeout(timer);
          gone.removeEventListener('abort', end);
          resolve();
        };
        const timer = hang ? undefined : setTimeout(end, generationMs);
        gone.addEventListener('abort', end, { once: true });
        current = {
          taskId: params.force_task_id,
          steps: params.steps,
          startedAt: Date.now(),
          hang,
          interrupted: false,
          end,
        };
      });
      return gone.aborted ? 'gone' : 'done';
    } finally {
      current = undefined;
      release();
    }
  }

  function progress(res: ServerResponse) {
    progressPolls += 1;
    const gen = current;
    const elapsed = gen ? Date.now() - gen.startedAt : 0;
    const step = !gen || gen.hang ? 0 : Math.min(gen.steps, Math.floor((elapsed / generationMs) * gen.steps));
    json(res, 200, {
      progress: gen ? step / gen.steps : 0,
      eta_relative: gen && !gen.hang ? Math.max(0, (generationMs - elapsed) / 1000) : 0,
      state: {
        skipped: false,
        interrupted: gen?.interrupted ?? false,
        job: gen ? `task(${gen.taskId})` : '',
        job_count: gen ? 1 : 0,
        job_timestamp: '20260101000000',
        job_no: 0,
        sampling_step: step,
        sampling_steps: gen?.steps ?? 0,
      },
      current_image: null,
      textinfo: null,
      current_task: gen?.taskId ?? null,
    });
  }

  const server = createServer((req, res) => {
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    const handle = async () => {
      if (!authorised(req) && route !== 'POST /sdapi/v1/txt2img') return unauthorised(res);
      switch (route) {
        case 'POST /sdapi/v1/txt2img':
          return txt2img(req, res, gone.signal);
        case 'GET /sdapi/v1/progress':
          return progress(res);
        case 'GET /controlnet/module_list':
          if (!controlnet) return json(res, 404, { detail: 'Not Found' });
          return json(res, 200, { module_list: controlnet.modules });
        case 'GET /controlnet/model_list':
          if (!controlnet) return json(res, 404, { detail: 'Not Found' });
          return json(res, 200, { model_list: controlnet.models });
        case 'POST /sdapi/v1/interrupt':
          interrupts += 1;
          if (current) current.interrupted = true;
          current?.end();
          return json(res, 200, {});
        default:
          return json(res, 404, { detail: 'Not Found' });
      }
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else json(res, 500, { error: 'StubError', detail: String(err), body: '', errors: String(err) });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get interrupts() {
      return interrupts;
    },
    get progressPolls() {
      return progressPolls;
    },
    units,
    script(...steps) {
      for (const step of steps) scripts.push({ ...step, left: step.times ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Hanging generations and keep-alive sockets would hold close() open forever.
        server.closeAllConnections();
      }),
  };
}

function unauthorised(res: ServerResponse) {
  json(res, 401, { detail: 'Incorrect username or password' }, { 'WWW-Authenticate': 'Basic' });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Params {
  prompt: string;
  negative_prompt: string;
  seed: number;
  steps: number;
  cfg_scale: number;
  width: number;
  height: number;
  sampler_name: string;
  force_task_id: string;
  sd_model_checkpoint: string;
  echo: Record<string, unknown>;
}

/** A1111's API defaults for whatever the request left out; seed −1 becomes a fresh random seed. */
function withDefaults(body: Record<string, unknown>): Params {
  const num = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback);
  const str = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback);
  const seed = num(body.seed, -1);
  const settings = (body.override_settings ?? {}) as Record<string, unknown>;
  return {
    prompt: str(body.prompt, ''),
    negative_prompt: str(body.negative_prompt, ''),
    seed: seed === -1 ? randomInt(0, 2 ** 32 - 1) : seed,
    steps: Math.max(1, num(body.steps, 50)),
    cfg_scale: num(body.cfg_scale, 7),
    width: num(body.width, 512),
    height: num(body.height, 512),
    sampler_name: str(body.sampler_name, 'Euler'),
    force_task_id: str(body.force_task_id, `task(${randomInt(1e9)})`),
    sd_model_checkpoint: str(settings.sd_model_checkpoint, 'stub-model.safetensors'),
    echo: body,
  };
}

/** A diagonal gradient between two colours drawn from hash(prompt, seed, steps). */
async function render(params: Params): Promise<A1111StubTxt2ImgResponse> {
  const { width, height, prompt, seed, steps } = params;
  const hash = createHash('sha256')
    .update(JSON.stringify([prompt, seed, steps]))
    .digest();
  const pixels = Buffer.alloc(width * height * 3);
  const span = Math.max(1, width + height - 2);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const t = (x + y) / span;
      const offset = (y * width + x) * 3;
      for (let c = 0; c < 3; c += 1) pixels[offset + c] = Math.round(hash[c]! * (1 - t) + hash[c + 3]! * t);
    }
  }
  const png = await sharp(pixels, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
  const info = {
    prompt,
    all_prompts: [prompt],
    negative_prompt: params.negative_prompt,
    all_negative_prompts: [params.negative_prompt],
    seed,
    all_seeds: [seed],
    subseed: seed,
    all_subseeds: [seed],
    subseed_strength: 0,
    width,
    height,
    sampler_name: params.sampler_name,
    cfg_scale: params.cfg_scale,
    steps,
    batch_size: 1,
    restore_faces: false,
    sd_model_name: params.sd_model_checkpoint.replace(/\.[a-z]+$/, ''),
    extra_generation_params: {},
    index_of_first_image: 0,
    infotexts: [`${prompt}\nSteps: ${steps}, Seed: ${seed}, Size: ${width}x${height}`],
    styles: [],
    job_timestamp: '20260101000000',
    clip_skip: 1,
  };
  return { images: [png.toString('base64')], parameters: params.echo, info: JSON.stringify(info) };
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

type ControlNetCheck = { units: A1111StubUnit[] } | { refused: string; error: string };

/**
 * `alwayson_scripts.controlnet` checked as A1111 and sd-webui-controlnet would: the script must be installed
 * (titles match case-insensitively); `args` is a list of unit objects; an enabled unit needs a known
 * preprocessor (`module`), a weight in 0–2 and an `image` that decodes (base64, a data: prefix allowed);
 * an InstantID embedding unit must be followed at once by the keypoints unit.
 */
async function checkControlNet(
  scripts: unknown,
  controlnet: { modules: string[]; models: string[] } | undefined,
): Promise<ControlNetCheck> {
  if (scripts === undefined) return { units: [] };
  if (!isRecord(scripts))
    return { refused: 'alwayson_scripts must be an object', error: 'RequestValidationError' };
  const title = Object.keys(scripts).find((key) => key.toLowerCase() === 'controlnet');
  if (!title) return { units: [] };
  if (!controlnet) return { refused: `always on script ${title} not found`, error: 'HTTPException' };
  const args = isRecord(scripts[title]) ? scripts[title].args : undefined;
  if (!Array.isArray(args))
    return { refused: 'controlnet: args must be a list of units', error: 'ValueError' };
  const accepted: A1111StubUnit[] = [];
  for (const [index, unit] of args.entries()) {
    const refuse = (why: string): ControlNetCheck => ({
      refused: `ControlNet unit ${index}: ${why}`,
      error: 'ValueError',
    });
    if (!isRecord(unit)) return refuse('must be an object');
    if (unit.enabled !== true) continue;
    const module = typeof unit.module === 'string' ? unit.module : 'none';
    if (!controlnet.modules.includes(module))
      return refuse(`module ${JSON.stringify(module)} is not a preprocessor`);
    const weight = typeof unit.weight === 'number' ? unit.weight : 1;
    if (weight < 0 || weight > 2) return refuse(`weight ${weight} is outside 0–2`);
    if (typeof unit.image !== 'string' || !unit.image) return refuse('no input image is given');
    let meta: { width?: number; height?: number; format?: string };
    try {
      meta = await sharp(Buffer.from(unit.image.replace(/^data:[^,]*,/, ''), 'base64')).metadata();
    } catch {
      return refuse('image is not a base64 image');
    }
    accepted.push({
      module,
      model: typeof unit.model === 'string' ? unit.model : 'None',
      weight,
      image: { width: meta.width ?? 0, height: meta.height ?? 0, format: meta.format ?? '' },
    });
  }
  for (const [i, unit] of accepted.entries()) {
    if (
      unit.module === 'instant_id_face_embedding' &&
      accepted[i + 1]?.module !== 'instant_id_face_keypoints'
    ) {
      return { refused: 'InstantID control model should follow ipadapter model.', error: 'ValueError' };
    }
  }
  return { units: accepted };
}
