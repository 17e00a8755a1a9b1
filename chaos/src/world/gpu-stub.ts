import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import sharp from 'sharp';

/**
 * The GPU side of a chaos run: AUTOMATIC1111's `sdapi` routes as the worker's a1111 backend uses them
 * (txt2img, progress, interrupt; adapted from test/support/a1111-stub.ts), one generation at a time per
 * server as A1111's queue lock does, a few milliseconds per image, and a count of every generation call.
 * The count is the point: "GPU calls ≤ jobs + kills × concurrency" is checked against it.
 *
 * A prompt holding `[[hold:<ms>]]` takes that long instead, so the driver can cancel a job while it runs
 * and a kill can land on a job that is certainly on a GPU.
 */
export interface GpuStub {
  url: string;
  /** txt2img requests received (each one a GPU call, whether it finished or was cut short). */
  readonly calls: number;
  /** Calls per job id (A1111's force_task_id is the job id). */
  readonly callsByJob: ReadonlyMap<string, number>;
  /** Most txt2img requests open at once. */
  readonly maxOpen: number;
  readonly interrupts: number;
  close(): Promise<void>;
}

const HOLD = /\[\[hold:(\d{1,6})\]\]/;

export async function startGpuStub(options: { imageMs: number }): Promise<GpuStub> {
  const callsByJob = new Map<string, number>();
  let calls = 0;
  let open = 0;
  let maxOpen = 0;
  let interrupts = 0;
  let current: { end(): void } | undefined;
  let queueTail: Promise<void> = Promise.resolve();
  // Solid images compress to almost nothing, so even 2048×2048 costs little; one per size is kept.
  const images = new Map<string, Promise<string>>();
  const imageOf = (width: number, height: number) => {
    const key = `${width}x${height}`;
    let image = images.get(key);
    if (!image) {
      image = sharp({ create: { width, height, channels: 3, background: { r: 40, g: 90, b: 160 } } })
        .png()
        .toBuffer()
        .then((png) => png.toString('base64'));
      images.set(key, image);
    }
    return image;
  };

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
  };

  async function txt2img(req: IncomingMessage, res: ServerResponse, gone: AbortSignal): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      return json(res, 422, { error: 'RequestValidationError', detail: 'not JSON', body: '', errors: '' });
    }
    calls += 1;
    const jobId = typeof body.force_task_id === 'string' ? body.force_task_id : '';
    callsByJob.set(jobId, (callsByJob.get(jobId) ?? 0) + 1);
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    try {
      const prompt = typeof body.prompt === 'string' ? body.prompt : '';
      const ms = Number(HOLD.exec(prompt)?.[1] ?? options.imageMs);
      // A1111 runs one generation at a time; later requests wait their turn.
      let release!: () => void;
      const turn = queueTail;
      queueTail = new Promise<void>((resolve) => (release = resolve));
      await turn;
      try {
        if (gone.aborted) return;
        await new Promise<void>((resolve) => {
          const end = () => {
            clearTimeout(timer);
            gone.removeEventListener('abort', end);
            current = undefined;
            resolve();
          };
          const timer = setTimeout(end, ms);
          gone.addEventListener('abort', end, { once: true });
          current = { end };
        });
      } finally {
        release();
      }
      if (gone.aborted) return;
      const width = typeof body.width === 'number' ? body.width : 512;
      const height = typeof body.height === 'number' ? body.height : 512;
      const seed = typeof body.seed === 'number' && body.seed >= 0 ? body.seed : 1234;
      json(res, 200, {
        images: [await imageOf(width, height)],
        parameters: {},
        info: JSON.stringify({ seed, all_seeds: [seed], index_of_first_image: 0 }),
      });
    } finally {
      open -= 1;
    }
  }

  const server = createServer((req, res) => {
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    const route = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    if (route === 'POST /sdapi/v1/txt2img') {
      txt2img(req, res, gone.signal).catch(() => res.destroy());
    } else if (route === 'GET /sdapi/v1/progress') {
      json(res, 200, { progress: current ? 0.5 : 0, current_task: null, state: {} });
    } else if (route === 'POST /sdapi/v1/interrupt') {
      interrupts += 1;
      current?.end();
      json(res, 200, {});
    } else {
      json(res, 404, { detail: 'Not Found' });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    callsByJob,
    get maxOpen() {
      return maxOpen;
    },
    get interrupts() {
      return interrupts;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
