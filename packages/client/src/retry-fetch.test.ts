import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { ApiError, createCastforgeClient } from './index';

/**
 * A stub HTTP server that answers from a script, one entry per request, and records what it received and
 * when: the client's retry policy seen from the wire.
 */
async function stubServer(script: ((req: IncomingMessage, res: ServerResponse) => void)[]) {
  const seen: { method: string; url: string; body: string; at: number }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body, at: Date.now() });
      const answer = script[seen.length - 1] ?? script.at(-1)!;
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  function answer(_req: IncomingMessage, res: ServerResponse) {
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
const limited = (retryAfter?: string) =>
  json(
    429,
    { error_code: 'RATE_LIMIT_EXCEEDED', message: 'slow down', detail: [], request_id: 'r' },
    retryAfter === undefined ? {} : { 'Retry-After': retryAfter },
  );
const campaign = { campaign_id: 'camp_0123456789abcdef', job_count: 8, status: 'running', created_at: 'x' };

describe('the client when the server says "not now"', () => {
  let stub: Awaited<ReturnType<typeof stubServer>> | undefined;
  afterEach(async () => {
    await stub?.close();
    stub = undefined;
  });

  it('waits what Retry-After says after a 429, then sends the same POST again with the same body and key', async () => {
    stub = await stubServer([limited('1'), json(202, campaign)]);
    const client = createCastforgeClient({ baseUrl: stub.baseUrl, apiKey: 'k1' });
    const body = { name: 'c', profile_ids: ['prof_0123456789abcdef'], scenes: [{ prompt: 'p' }] };

    await expect(client.campaigns.create(body, { idempotencyKey: 'idem-1' })).resolves.toEqual(campaign);
    expect(stub.seen.map((s) => [s.method, s.url, JSON.parse(s.body) as unknown])).toEqual([
      ['POST', '/campaigns/v1', body],
      ['POST', '/campaigns/v1', body],
    ]);
    // Retry-After: 1 is a lower bound the client must respect, whatever the machine's speed.
    expect(stub.seen[1]!.at - stub.seen[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('backs off on a 429 without Retry-After and gives up after its retries with the 429 as an ApiError', async () => {
    stub = await stubServer([limited()]);
    const client = createCastforgeClient({
      baseUrl: stub.baseUrl,
      apiKey: 'k1',
      retry: { retries: 2, baseDelayMs: 5 },
    });
    const error = await client.campaigns.get('camp_0123456789abcdef').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 429,
      code: 'RATE_LIMIT_EXCEEDED',
      message: '429 RATE_LIMIT_EXCEEDED: slow down',
    });
    expect(stub.seen).toHaveLength(3);
  });

  it('retries a read on 503 but never a write', async () => {
    const down = json(503, {
      error_code: 'SERVICE_UNAVAILABLE',
      message: 'down',
      detail: [],
      request_id: 'r',
    });
    stub = await stubServer([down, json(200, { ...campaign, counts: {} })]);
    const client = createCastforgeClient({ baseUrl: stub.baseUrl, apiKey: 'k1', retry: { baseDelayMs: 5 } });
    await expect(client.campaigns.get('camp_0123456789abcdef')).resolves.toMatchObject({ job_count: 8 });
    expect(stub.seen).toHaveLength(2);
    await stub.close();

    stub = await stubServer([down]);
    const writer = createCastforgeClient({ baseUrl: stub.baseUrl, apiKey: 'k1', retry: { baseDelayMs: 5 } });
    await expect(writer.campaigns.cancel('camp_0123456789abcdef')).rejects.toMatchObject({ status: 503 });
    expect(stub.seen).toHaveLength(1);
  });

  it('turns a non-JSON error page from a proxy into an ApiError with no body', async () => {
    stub = await stubServer([
      (_req, res) => res.writeHead(502, { 'Content-Type': 'text/html' }).end('<h1>Bad gateway</h1>'),
    ]);
    const client = createCastforgeClient({ baseUrl: stub.baseUrl, apiKey: 'k1' });
    await expect(client.profiles.get('prof_0123456789abcdef')).rejects.toMatchObject({
      status: 502,
      body: null,
      message: 'HTTP 502',
    });
  });
});
