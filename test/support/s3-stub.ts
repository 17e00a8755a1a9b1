import { createHash, randomBytes } from 'node:crypto';
import { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';

/**
 * A stand-in for an S3-compatible store addressed path-style (`<endpoint>/<bucket>/<key>`, as MinIO is):
 * PutObject, GetObject, HeadObject and DeleteObject, with S3's XML errors. SigV4 signatures are not
 * verified, but a request without one is refused as S3 would, so a client that forgot its credentials fails.
 */
export interface S3StubOptions {
  /** Buckets that exist; any other answers 404 NoSuchBucket. Default ['castforge-results']. */
  buckets?: string[];
  /** Default 0 (a free port). */
  port?: number;
}

export interface S3StubObject {
  body: Buffer;
  contentType: string | undefined;
}

export interface S3StubRequest {
  method: string;
  bucket: string;
  /** The object key, decoded (prefix included). */
  key: string;
  headers: IncomingHttpHeaders;
}

export interface S3Stub {
  /** Endpoint, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** Every request received, in order, including refused ones. */
  requests: S3StubRequest[];
  /** Stored objects by `<bucket>/<key>`. */
  objects: Map<string, S3StubObject>;
  object(bucket: string, key: string): S3StubObject | undefined;
  /** Stops answering (requests stay open) until `answer()`: a store that went silent. */
  hold(): void;
  answer(): void;
  close(): Promise<void>;
}

const xmlError = (res: ServerResponse, status: number, code: string, message: string, resource: string) => {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message><Resource>${resource}</Resource>` +
    `<RequestId>${randomBytes(8).toString('hex').toUpperCase()}</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  // HEAD answers carry the status only, as S3's do.
  res.end(res.req.method === 'HEAD' ? undefined : body);
};

export async function startS3Stub(options: S3StubOptions = {}): Promise<S3Stub> {
  const buckets = new Set(options.buckets ?? ['castforge-results']);
  const objects = new Map<string, S3StubObject>();
  const requests: S3StubRequest[] = [];
  let held: Array<() => void> | undefined;

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://stub');
    const [bucket = '', ...rest] = url.pathname.slice(1).split('/');
    const key = decodeURIComponent(rest.join('/'));
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    requests.push({ method, bucket, key, headers: req.headers });
    if (held) await new Promise<void>((resolve) => held!.push(resolve));

    if (!/^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? '')) {
      return xmlError(res, 403, 'AccessDenied', 'Access Denied', url.pathname);
    }
    if (!buckets.has(bucket)) {
      return xmlError(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', url.pathname);
    }
    if (!key) return xmlError(res, 501, 'NotImplemented', 'only object requests are stubbed', url.pathname);
    if (/aws-chunked/.test(String(req.headers['content-encoding']))) {
      return xmlError(res, 501, 'NotImplemented', 'aws-chunked uploads are not stubbed', url.pathname);
    }
    const id = `${bucket}/${key}`;
    switch (method) {
      case 'PUT': {
        objects.set(id, { body, contentType: req.headers['content-type'] });
        res.writeHead(200, { ETag: etagOf(body) }).end();
        return;
      }
      case 'GET':
      case 'HEAD': {
        const stored = objects.get(id);
        if (!stored)
          return xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.', url.pathname);
        res.writeHead(200, {
          'Content-Length': stored.body.length,
          'Content-Type': stored.contentType ?? 'binary/octet-stream',
          ETag: etagOf(stored.body),
          'Last-Modified': new Date().toUTCString(),
        });
        res.end(method === 'GET' ? stored.body : undefined);
        return;
      }
      case 'DELETE':
        // S3 answers 204 whether or not the key existed.
        objects.delete(id);
        res.writeHead(204).end();
        return;
      default:
        return xmlError(res, 405, 'MethodNotAllowed', `${method} is not stubbed`, url.pathname);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else xmlError(res, 500, 'InternalError', String(err), req.url ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    objects,
    object: (bucket, key) => objects.get(`${bucket}/${key}`),
    hold() {
      held ??= [];
    },
    answer() {
      const waiting = held ?? [];
      held = undefined;
      waiting.forEach((resume) => resume());
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // Held requests and the SDK's keep-alive sockets would hold close() open forever.
        server.closeAllConnections();
      }),
  };
}

const etagOf = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
