import { randomBytes, timingSafeEqual } from 'node:crypto';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A stand-in for an OpenAI-compatible chat server (OpenAI, Ollama, vLLM, llama.cpp's llama-server):
 * `POST /v1/chat/completions` with a `{model, messages}` body, optional `Authorization: Bearer`, answered
 * with a `chat.completion` object, and errors in OpenAI's `{error: {message, type, code}}` shape.
 */
export interface OpenAiStubOptions {
  /** Requires `Authorization: Bearer <apiKey>`, as OpenAI and `llama-server --api-key` do. */
  apiKey?: string;
  /** The assistant's answer to a conversation. Default: the last user message with details appended. */
  reply?: (messages: ChatMessage[]) => string | null;
}

export interface ChatMessage {
  role: string;
  content: string;
}

/** What the next request(s) should do instead of answering normally. */
export interface OpenAiStubScript {
  /** Answer with this status and an OpenAI error body (or `body`). */
  status?: number;
  /** Answer 200 with this raw text instead of a completion (bad JSON, a wrong shape…). */
  raw?: string;
  body?: unknown;
  /** This answer's content (null: the server sent no content). */
  content?: string | null;
  /** Never answer. */
  hang?: boolean;
  delayMs?: number;
  times?: number;
}

export interface OpenAiStubRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

export interface OpenAiStub {
  /** Base URL, e.g. http://127.0.0.1:41234 (no /v1, no trailing slash). */
  url: string;
  requests: OpenAiStubRequest[];
  script(...steps: OpenAiStubScript[]): void;
  close(): Promise<void>;
}

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

const error = (res: ServerResponse, status: number, message: string, code: string | null = null) =>
  json(res, status, {
    error: { message, type: 'invalid_request_error', param: null, code },
  });

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

const defaultReply = (messages: ChatMessage[]) => {
  const user = [...messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  return `${user}, golden hour light, shallow depth of field, 85mm lens, detailed textures`;
};

export async function startOpenAiStub(options: OpenAiStubOptions = {}): Promise<OpenAiStub> {
  const requests: OpenAiStubRequest[] = [];
  const scripts: Array<OpenAiStubScript & { left: number }> = [];
  const reply = options.reply ?? defaultReply;

  const nextScript = (): OpenAiStubScript => {
    const step = scripts[0];
    if (!step) return {};
    step.left -= 1;
    if (step.left <= 0) scripts.shift();
    return step;
  };

  const authorised = (req: IncomingMessage) => {
    if (!options.apiKey) return true;
    const expected = Buffer.from(`Bearer ${options.apiKey}`);
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };

  async function handle(req: IncomingMessage, res: ServerResponse, gone: AbortSignal) {
    const path = (req.url ?? '').split('?')[0]!;
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = undefined;
    }
    requests.push({ path, headers: req.headers, body });
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      return error(res, 404, `Invalid URL (${req.method} ${path})`);
    }
    if (!authorised(req)) return error(res, 401, 'Incorrect API key provided', 'invalid_api_key');
    if (!(req.headers['content-type'] ?? '').startsWith('application/json') || body === undefined) {
      return error(res, 400, 'We could not parse the JSON body of your request.');
    }
    const { model, messages, stream } = body as { model?: unknown; messages?: unknown; stream?: unknown };
    if (typeof model !== 'string' || !model) return error(res, 400, 'you must provide a model parameter');
    if (
      !Array.isArray(messages) ||
      messages.length === 0 ||
      !messages.every(
        (m: unknown) =>
          typeof m === 'object' &&
          m !== null &&
          ROLES.has((m as ChatMessage).role) &&
          typeof (m as ChatMessage).content === 'string',
      )
    ) {
      return error(res, 400, "Invalid 'messages': an array of {role, content} is required");
    }
    if (stream === true) return error(res, 400, 'this stub does not stream');

    const step = nextScript();
    if (step.delayMs) await sleep(step.delayMs, undefined, { signal: gone }).catch(() => undefined);
    if (step.hang) await new Promise((resolve) => gone.addEventListener('abort', resolve, { once: true }));
    if (gone.aborted) return;
    if (step.status !== undefined) {
      if (step.body !== undefined) return json(res, step.status, step.body);
      return error(res, step.status, `scripted failure (${step.status})`);
    }
    if (step.raw !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(step.raw);
      return;
    }
    const content = step.content !== undefined ? step.content : reply(messages as ChatMessage[]);
    const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
    const promptTokens = (messages as ChatMessage[]).reduce((n, m) => n + words(m.content), 0);
    const completionTokens = content ? words(content) : 0;
    json(res, 200, {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop', logprobs: null }],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  }

  const server = createServer((req, res) => {
    const gone = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) gone.abort();
    });
    handle(req, res, gone.signal).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script(...steps) {
      for (const step of steps) scripts.push({ ...step, left: step.times ?? 1 });
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
