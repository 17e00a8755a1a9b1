import { type Model } from 'mongoose';
import { invalidParameters } from '../errors';

interface Cursor {
  t: number;
  id: string;
}

function decodeCursor(cursor: string): Cursor {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as Partial<Cursor>;
    // A time outside the Date range would reach MongoDB as an Invalid Date and fail the query (500).
    if (
      typeof parsed.t === 'number' &&
      !Number.isNaN(new Date(parsed.t).getTime()) &&
      typeof parsed.id === 'string'
    ) {
      return { t: parsed.t, id: parsed.id };
    }
  } catch {
    // fall through to the 422 below
  }
  throw invalidParameters([
    { loc: ['query', 'cursor'], msg: 'is not a cursor this API returned', type: 'invalid_cursor' },
  ]);
}

/**
 * One page of a collection newest first, by (created_at, id) descending — the id breaks ties, so a page
 * boundary never skips or repeats a document. The cursor is opaque to clients (base64 of the last key)
 * and a cursor this API did not make is a 422.
 */
export async function pageNewestFirst<T extends { created_at: Date }>(
  model: Model<T>,
  options: {
    filter: Record<string, unknown>;
    idField: keyof T & string;
    projection?: Record<string, 0 | 1>;
    limit: number;
    cursor?: string;
  },
): Promise<{ docs: T[]; nextCursor: string | null }> {
  const { idField, limit } = options;
  const filter: Record<string, unknown> = { ...options.filter };
  if (options.cursor !== undefined) {
    const { t, id } = decodeCursor(options.cursor);
    const at = new Date(t);
    filter.$or = [{ created_at: { $lt: at } }, { created_at: at, [idField]: { $lt: id } }];
  }
  const docs = await model
    .find(filter, { _id: 0, ...options.projection })
    .sort({ created_at: -1, [idField]: -1 })
    .limit(limit + 1)
    .lean<T[]>();
  const more = docs.length > limit;
  const shown = more ? docs.slice(0, limit) : docs;
  const last = shown.at(-1);
  const nextCursor =
    more && last
      ? Buffer.from(
          JSON.stringify({ t: last.created_at.getTime(), id: String(last[idField]) } satisfies Cursor),
        ).toString('base64url')
      : null;
  return { docs: shown, nextCursor };
}
