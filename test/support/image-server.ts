import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import sharp from 'sharp';

/**
 * A local HTTP server for input images (SPEC §3b): whatever `route` answers at each path. Listens on
 * 127.0.0.1 port 0, so a worker needs INPUT_ALLOW_LOOPBACK=true to fetch from it.
 */
export type ImageRoute = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface ImageServer {
  /** Base URL, e.g. http://127.0.0.1:41234 (no trailing slash). */
  url: string;
  /** `${url}${path}`. */
  at(path: string): string;
  /** Serves `route` at `path` (replacing any earlier one). */
  route(path: string, route: ImageRoute): void;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startImageServer(routes: Record<string, ImageRoute> = {}): Promise<ImageServer> {
  const table = new Map(Object.entries(routes));
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(path);
    const route = table.get(path);
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    Promise.resolve(route(req, res)).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    at: (path) => `${url}${path}`,
    route: (path, route) => void table.set(path, route),
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Answers with `body` and its content type. */
export const serve =
  (body: Buffer | string, contentType: string): ImageRoute =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
  };

/** A solid-colour test image (top half `rgb`, bottom half its inverse, so crops and flips are visible). */
export async function testImage(
  format: 'png' | 'jpeg' | 'webp',
  width = 64,
  height = 64,
  rgb: [number, number, number] = [200, 40, 40],
): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const colour = y < height / 2 ? rgb : rgb.map((c) => 255 - c);
      pixels.set(colour, (y * width + x) * 3);
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } })
    .toFormat(format)
    .toBuffer();
}
