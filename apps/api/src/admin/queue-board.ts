import { AppError, type Logger } from '@castforge/core';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { type Queue } from 'bullmq';
import { type RequestHandler, Router } from 'express';

/** How old the list of queues may get before a request to the board asks `listQueues` again. */
const REFRESH_MS = 5000;

/** Job fields that may hold a face image, a callback URL or a signed link: never shown (SPEC §9). */
const HIDDEN_FIELD = /image|url|secret|signature/i;

function hideSensitive(value: unknown, depth = 0): unknown {
  if (depth > 8 || !value || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => hideSensitive(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      HIDDEN_FIELD.test(key) ? '[hidden]' : hideSensitive(field, depth + 1),
    ]),
  );
}

export interface QueueBoardOptions {
  /** Where the board is mounted, e.g. `/admin/queues` (its pages link to their assets from there). */
  basePath: string;
  readOnly: boolean;
  /**
   * The queues to show. Called again when the list is older than 5 s at a request, or at `refresh()`,
   * so queues that come and go (a lane per tenant) appear and disappear without a restart.
   */
  listQueues: () => Promise<Queue[]>;
  logger: Logger;
}

/**
 * Bull Board (the BullMQ ecosystem's queue UI) for operators. Read-only by default: every request
 * other than GET is refused 405 before it reaches the board, and the board's own queue adapters are
 * read-only too. Job data and results are shown with fields that could hold images or URLs hidden.
 */
export function createQueueBoard(options: QueueBoardOptions) {
  const serverAdapter = new ExpressAdapter().setBasePath(options.basePath);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'castforge queues' } },
  });
  const shown = new Map<string, BullMQAdapter>();
  let refreshedAt = 0;
  let pending: Promise<void> | undefined;

  const adapterFor = (queue: Queue) => {
    const adapter = new BullMQAdapter(queue, {
      readOnlyMode: options.readOnly,
      allowRetries: !options.readOnly,
    });
    adapter.setFormatter('data', (data: unknown) => hideSensitive(data));
    adapter.setFormatter('returnValue', (value: unknown) => hideSensitive(value));
    return adapter;
  };

  /** Asks `listQueues` for the current queues and shows exactly those, keeping the adapters of known ones. */
  const refresh = (): Promise<void> => {
    pending ??= options
      .listQueues()
      .then((queues) => {
        const next = new Map(queues.map((queue) => [queue.qualifiedName, queue]));
        for (const name of [...shown.keys()]) if (!next.has(name)) shown.delete(name);
        for (const [name, queue] of next) if (!shown.has(name)) shown.set(name, adapterFor(queue));
        board.replaceQueues([...shown.values()]);
        refreshedAt = Date.now();
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };

  const router = Router();
  router.use((req, _res, next) => {
    if (options.readOnly && req.method !== 'GET' && req.method !== 'HEAD') {
      throw new AppError('METHOD_NOT_ALLOWED', 'the queue board is read-only (ADMIN_QUEUES_READ_ONLY)', {
        headers: { Allow: 'GET, HEAD' },
      });
    }
    next();
  });
  const fresh: RequestHandler = async (_req, _res, next) => {
    if (Date.now() - refreshedAt > REFRESH_MS) {
      await refresh().catch((err: Error) =>
        options.logger.warn(
          { err: err.message },
          'could not list the queues for the board; showing the last list',
        ),
      );
    }
    next();
  };
  router.use(fresh, serverAdapter.getRouter() as RequestHandler);

  return { router, refresh };
}
export type QueueBoard = ReturnType<typeof createQueueBoard>;
