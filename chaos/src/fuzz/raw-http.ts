import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** Path and query exactly as sent (already percent-encoded where the fuzzer wants it). */
  target: string;
  /** Header lines sent as given (UTF-8), control bytes included, which Node's own client would refuse. */
  headers: [string, string][];
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/**
 * One HTTP/1.1 request over a fresh TCP connection, written byte for byte: the fuzzer must be able to send
 * what a well-behaved client never would (control bytes in headers, 20 KB headers, duplicated headers),
 * which Node's http client refuses to. The connection is closed after the answer. Rejects on a timeout or
 * when the server closes without answering.
 */
export function rawRequest(
  host: string,
  port: number,
  req: RawRequest,
  timeoutMs: number,
): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    // The server may answer and close while the request is still being written (a 431 for huge headers):
    // EPIPE or ECONNRESET then, with the answer already read.
    const settle = (err?: Error) => {
      const raw = Buffer.concat(chunks);
      const parsed = parseResponse(raw, req.method === 'HEAD');
      if (parsed) resolve({ ...parsed, ms: performance.now() - started });
      else reject(err ?? new Error(`closed without an answer (${raw.length} bytes)`));
    };
    let failure: Error | undefined;
    socket.on('error', (err) => (failure = err));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => settle(failure));
    socket.on('connect', () => {
      const head = [
        `${req.method} ${req.target} HTTP/1.1`,
        `Host: ${host}:${port}`,
        'Connection: close',
        ...req.headers.map(([name, value]) => `${name}: ${value}`),
        ...(req.body ? [`Content-Length: ${req.body.length}`] : []),
        '',
        '',
      ].join('\r\n');
      // UTF-8, as clients send non-ASCII header values (obs-text to the parser); control bytes stay raw.
      socket.write(Buffer.from(head, 'utf8'));
      if (req.body) socket.write(req.body);
    });
  });
}

function parseResponse(raw: Buffer, head: boolean): Omit<RawResponse, 'ms'> | null {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) return null;
  const lines = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  if (!status) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = head ? Buffer.alloc(0) : raw.subarray(split + 4);
  if (!head && /chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
