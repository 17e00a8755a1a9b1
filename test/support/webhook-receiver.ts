import { readFileSync } from 'node:fs';
import { type IncomingHttpHeaders, type Server, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import path from 'node:path';
import { runInThisContext } from 'node:vm';

/** One request a receiver got: its arrival time (ms), path with query, headers and raw body. */
export interface ReceivedWebhook {
  at: number;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** How a receiver answers: a status (and headers), or `hang`: keep the connection open and never answer. */
export type ReceiverAnswer = { status: number; headers?: Record<string, string> } | 'hang';

export interface WebhookReceiver {
  port: number;
  /** `http://127.0.0.1:<port><path>`. */
  url(pathAndQuery: string): string;
  received: ReceivedWebhook[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Requests whose answer was not sent yet (hanging ones included). */
  open(): number;
  close(): Promise<void>;
}

/**
 * A webhook receiver on 127.0.0.1 (node:http), as a customer would run one. `answer` decides each response and
 * may be async (to look at something before answering); the default is 204.
 */
export async function startReceiver(
  answer: (request: ReceivedWebhook, index: number) => ReceiverAnswer | Promise<ReceiverAnswer> = () => ({
    status: 204,
  }),
): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let connections = 0;
  let open = 0;
  const server: Server = createServer((req, res) => {
    open += 1;
    res.on('close', () => (open -= 1));
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedWebhook = {
        at: Date.now(),
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      const index = received.push(request) - 1;
      Promise.resolve(answer(request, index))
        .then((a) => {
          if (a !== 'hang') res.writeHead(a.status, a.headers).end();
        })
        .catch(() => res.writeHead(500).end());
    });
  });
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (pathAndQuery) => `http://127.0.0.1:${port}${pathAndQuery}`,
    received,
    connections: () => connections,
    open: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export type VerifyWebhook = (
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
  toleranceSeconds?: number,
) => boolean;

/**
 * The `verifyWebhook` function of README.md's "Webhooks" section, taken from the README itself at run time, so
 * the tests check exactly what a customer copies (a copy kept here could drift from it unnoticed).
 */
export function readmeVerifyWebhook(): VerifyWebhook {
  const readme = readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Webhooks'));
  const snippet = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (!snippet?.includes('function verifyWebhook(')) {
    throw new Error(
      'README.md: the ```js block with function verifyWebhook( is gone from the Webhooks section',
    );
  }
  const factory = runInThisContext(`(function (require) {\n${snippet}\nreturn verifyWebhook;\n})`, {
    filename: 'README.md#webhooks',
  }) as (req: NodeJS.Require) => VerifyWebhook;
  return factory(require);
}
