import { randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer } from 'ws';
import { type ComfyStubScript } from './comfyui-stub-executor';
import { stubNodeCatalogue } from './comfyui-stub-nodes';
import { bootComfy } from './comfyui-stub-queue';

export type { ComfyStubScript } from './comfyui-stub-executor';

/**
 * A stand-in for a ComfyUI server (notes/backends.md §2.2, read against Comfy-Org/ComfyUI server.py,
 * execution.py and websocket_image_save.py): HTTP and the websocket on one port, every route also under
 * /api, one prompt executing at a time from a priority queue, messages only to the submitting client id
 * (a reconnect with the same id takes them over), image frames shaped by the client's feature flags, node
 * validation against its own object_info, a node output cache, an in-memory history. It records what a
 * zero-retention test must see empty: uploads, files saved by nodes, /view reads.
 */
export interface ComfyStubOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Time per sampler step. Default 5 ms. */
  stepMs?: number;
  /** Refuse HTTP and websocket upgrades without this header (a reverse proxy's auth). */
  requireHeader?: { name: string; value: string };
  /** false: a server before 0.3.45, which ignores the client's prompt_id and picks its own. */
  clientPromptIds?: boolean;
  /** false: a server before 0.3.57, which ignores /interrupt's body and interrupts whatever runs. */
  targetedInterrupt?: boolean;
  /** false: a server before feature flags, which always sends legacy image frames. */
  featureFlags?: boolean;
  /** Time between execution_success and the history entry (ComfyUI files it just after). Default 20 ms. */
  historyDelayMs?: number;
  /** Node classes this server lacks (a node pack not installed). */
  without?: string[];
  /** Routes answered 404, e.g. `GET /queue` or `GET /history/{id}` (a proxy exposing only part of the API). */
  hide?: string[];
}

export interface ComfyStub {
  url: string;
  /** Every POST /prompt body, with the status answered. */
  submissions: Array<{ body: Record<string, unknown>; status: number }>;
  /** Prompt ids in the history now. */
  historyIds(): string[];
  /** The prompt currently executing, and those waiting. */
  running(): string | undefined;
  pending(): string[];
  /** Files received by /upload/image or /upload/mask, files written by SaveImage/PreviewImage, /view reads. */
  uploads: string[];
  savedFiles: string[];
  views: string[];
  /** The image of every image frame the output nodes sent, with its prompt id: what a client received. */
  images: Array<{ promptId: string; png: Buffer }>;
  /** POST /interrupt calls: the prompt_id named (if any) and the prompt actually interrupted (or null). */
  interrupts: Array<{ promptId?: string; hit: string | null }>;
  queueDeletes: string[];
  historyDeletes: string[];
  /** Every HTTP request and websocket upgrade, with its query (`search`) and headers. */
  requests: Array<{ method: string; path: string; search: string; headers: IncomingHttpHeaders }>;
  upgrades: Array<{ clientId: string; search: string; headers: IncomingHttpHeaders }>;
  /** Queues behaviour for upcoming prompts, in submission order. */
  script(...steps: ComfyStubScript[]): void;
  /** Stops taking prompts off the queue (they stay pending), and starts again. */
  pause(): void;
  resume(): void;
  /** Lets a `hold` prompt's sampler go on. */
  release(): void;
  /** Closes every client's websocket from the server side; the server and its prompts carry on. */
  dropSockets(): void;
  /**
   * Forgets every client id while leaving the sockets open (server.py pops a client id when an older socket
   * of that id closes late): the server carries on, sending those clients nothing.
   */
  deafen(): void;
  /** Stops the server (queue, history and sockets lost, the running prompt abandoned) and starts it again. */
  restart(options?: { downMs?: number }): Promise<void>;
  close(): Promise<void>;
}

export async function startComfyStub(options: ComfyStubOptions = {}): Promise<ComfyStub> {
  const catalogue = stubNodeCatalogue();
  for (const name of options.without ?? []) delete catalogue[name];
  const scripts: Array<ComfyStubScript & { left: number }> = [];
  let paused = false;
  let releaseHold: () => void = () => undefined;
  let held = new Promise<void>((resolve) => (releaseHold = resolve));
  const record = {
    submissions: [] as ComfyStub['submissions'],
    uploads: [] as string[],
    savedFiles: [] as string[],
    views: [] as string[],
    images: [] as ComfyStub['images'],
    interrupts: [] as ComfyStub['interrupts'],
    queueDeletes: [] as string[],
    historyDeletes: [] as string[],
    requests: [] as ComfyStub['requests'],
    upgrades: [] as ComfyStub['upgrades'],
  };
  const boot = () =>
    bootComfy({
      catalogue,
      stepMs: options.stepMs ?? 5,
      historyDelayMs: options.historyDelayMs ?? 20,
      clientPromptIds: options.clientPromptIds !== false,
      targetedInterrupt: options.targetedInterrupt !== false,
      paused: () => paused,
      nextScript() {
        const step = scripts[0];
        if (!step) return {};
        step.left -= 1;
        if (step.left <= 0) scripts.shift();
        return step;
      },
      released: () => held,
      saveFile: (name) => record.savedFiles.push(name),
      sentImage: (promptId, png) => record.images.push({ promptId, png }),
    });
  let current = boot();

  const routes: Record<
    string,
    (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => Promise<void> | void
  > = {
    'GET /object_info': (_req, res) => json(res, 200, catalogue),
    'GET /prompt': (_req, res) => json(res, 200, current.queueInfo()),
    'POST /prompt': async (req, res) => {
      const body = await readJson(req);
      const { status, payload } = current.postPrompt(body);
      record.submissions.push({ body, status });
      json(res, status, payload);
    },
    'GET /queue': (_req, res) =>
      json(res, 200, {
        queue_running: current.state.running ? [current.state.running.item] : [],
        queue_pending: [...current.state.queue],
      }),
    'POST /queue': async (req, res) => {
      const body = await readJson(req);
      const { state } = current;
      if (body.clear === true) state.queue = [];
      for (const id of Array.isArray(body.delete) ? body.delete : []) {
        record.queueDeletes.push(String(id));
        state.queue = state.queue.filter((item) => item[1] !== id);
      }
      current.queueUpdated();
      res.writeHead(200).end();
    },
    'POST /interrupt': async (req, res) => {
      record.interrupts.push(current.postInterrupt(await readJson(req).catch(() => ({}))));
      res.writeHead(200).end();
    },
    'GET /history': (_req, res) => json(res, 200, Object.fromEntries(current.state.history)),
    'POST /history': async (req, res) => {
      const body = await readJson(req);
      const { history } = current.state;
      if (body.clear === true) history.clear();
      for (const id of Array.isArray(body.delete) ? body.delete : []) {
        record.historyDeletes.push(String(id));
        history.delete(String(id));
      }
      res.writeHead(200).end();
    },
    'POST /upload/image': async (req, res) => {
      await readBody(req);
      const name = `upload_${record.uploads.length}.png`;
      record.uploads.push(name);
      json(res, 200, { name, subfolder: '', type: 'input' });
    },
    'GET /view': (_req, res, query) => {
      record.views.push(query.get('filename') ?? '');
      res.writeHead(404).end();
    },
    'GET /system_stats': (_req, res) =>
      json(res, 200, {
        system: { os: 'posix', comfyui_version: '0.3.64', python_version: '3.12' },
        devices: [],
      }),
    'POST /free': (_req, res) => void res.writeHead(200).end(),
  };

  const authorised = (headers: IncomingHttpHeaders) =>
    !options.requireHeader ||
    headers[options.requireHeader.name.toLowerCase()] === options.requireHeader.value;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    record.requests.push({ method: req.method ?? 'GET', path, search: url.search, headers: req.headers });
    if (!authorised(req.headers)) return json(res, 401, { error: 'Unauthorized' });
    const routeKey = `${req.method} ${path.startsWith('/history/') ? '/history/{id}' : path}`;
    if (options.hide?.includes(routeKey)) return json(res, 404, { error: '404: Not Found' });
    const handler =
      routes[`${req.method} ${path}`] ??
      (req.method === 'GET' && path.startsWith('/history/')
        ? (_q: IncomingMessage, r: ServerResponse) => {
            const id = decodeURIComponent(path.slice('/history/'.length));
            const entry = current.state.history.get(id);
            json(r, 200, entry ? { [id]: entry } : {});
          }
        : req.method === 'GET' && path.startsWith('/object_info/')
          ? (_q: IncomingMessage, r: ServerResponse) => {
              const name = decodeURIComponent(path.slice('/object_info/'.length));
              json(r, 200, catalogue[name] ? { [name]: catalogue[name] } : {});
            }
          : undefined);
    if (!handler) return json(res, 404, { error: '404: Not Found' });
    Promise.resolve(handler(req, res, url.searchParams)).catch(() => {
      if (!res.headersSent)
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('500 Internal Server Error');
    });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname.replace(/^\/api(?=\/)/, '') !== '/ws' || !authorised(req.headers)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const sid = url.searchParams.get('clientId') || randomUUID().replace(/-/g, '');
      record.upgrades.push({ clientId: sid, search: url.search, headers: req.headers });
      const owner = current;
      const entry = { ws, flags: {} as Record<string, unknown> };
      owner.state.sockets.set(sid, entry);
      let first = true;
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        try {
          const text = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
          const message = JSON.parse(text.toString('utf8')) as {
            type?: string;
            data?: Record<string, unknown>;
          };
          if (first && message.type === 'feature_flags' && options.featureFlags !== false) {
            entry.flags = message.data ?? {};
            ws.send(
              JSON.stringify({
                type: 'feature_flags',
                data: { supports_preview_metadata: true, max_upload_size: 104857600 },
              }),
            );
          }
        } catch {
          // server.py logs invalid JSON and carries on.
        }
        first = false;
      });
      // server.py pops the client id when a socket ends, whichever socket holds it by then.
      ws.on('close', () => owner.state.sockets.delete(sid));
      ws.send(JSON.stringify({ type: 'status', data: { status: owner.queueInfo(), sid } }));
      const { running, runningNode } = owner.state;
      if (running && running.item[3].client_id === sid && runningNode !== null)
        ws.send(JSON.stringify({ type: 'executing', data: { node: runningNode } }));
    });
  });

  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = async () => {
    current.stop();
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };
  await listen(options.port ?? 0);
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    ...record,
    historyIds: () => [...current.state.history.keys()],
    running: () => current.state.running?.item[1],
    pending: () => current.state.queue.map((item) => item[1]),
    script(...steps) {
      for (const step of steps) scripts.push({ ...step, left: step.times ?? 1 });
    },
    pause: () => void (paused = true),
    resume() {
      paused = false;
      current.pump();
    },
    release() {
      releaseHold();
      held = new Promise<void>((resolve) => (releaseHold = resolve));
    },
    dropSockets() {
      for (const { ws } of current.state.sockets.values()) ws.terminate();
    },
    deafen: () => current.state.sockets.clear(),
    async restart({ downMs = 0 } = {}) {
      await stop();
      current = boot();
      if (downMs) await sleep(downMs);
      await listen(port);
    },
    close: stop,
  };
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** aiohttp's request.json(): a body that is not JSON raises (a 500 from the route). */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parsed: unknown = JSON.parse((await readBody(req)).toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error('not an object');
  return parsed as Record<string, unknown>;
}
