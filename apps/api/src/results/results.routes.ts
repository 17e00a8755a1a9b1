import { AppError, type ResultStore, verifyResultSignature } from '@castforge/core';
import { mimeTypeByFormat, type OutputFormat } from '@castforge/schemas';
import { Router } from 'express';
import { pipeline } from 'node:stream/promises';

const RESULT_KEY = /^(job_[0-9a-f]{16})\.(png|jpeg|webp)$/;

/**
 * GET /results/v1/<job_id>.<ext>?expires=&sig= (SPEC §5): no API key, the signature is the credential.
 * A bad signature reads as an unknown file (404); a good one past its expiry is 410, and the file goes.
 */
export function resultsRouter(deps: { store: ResultStore; secret: Buffer }): Router {
  const router = Router();
  router.get('/:file', async (req, res) => {
    const file = String(req.params.file);
    const match = RESULT_KEY.exec(file);
    const expires = Number(req.query.expires);
    const sig = typeof req.query.sig === 'string' ? req.query.sig : '';
    if (
      !match ||
      !Number.isSafeInteger(expires) ||
      !sig ||
      !verifyResultSignature(file, expires, sig, deps.secret)
    ) {
      throw new AppError('NOT_FOUND', 'no such result');
    }
    const remaining = expires - Math.floor(Date.now() / 1000);
    if (remaining <= 0) {
      await deps.store.remove(file);
      throw new AppError('GONE', 'this result link has expired and the image was deleted');
    }
    const opened = await deps.store.open(file);
    if (!opened) throw new AppError('GONE', 'this result is no longer stored');
    res.status(200).set({
      'Content-Type': mimeTypeByFormat[match[2] as OutputFormat],
      'Content-Length': String(opened.size),
      'Cache-Control': `private, max-age=${remaining}`,
      'Content-Disposition': `inline; filename="${file}"`,
      'X-Content-Type-Options': 'nosniff',
    });
    await pipeline(opened.stream, res);
  });
  return router;
}
