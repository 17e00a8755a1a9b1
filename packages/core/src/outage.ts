/**
 * Recognises errors that mean "a dependency is unreachable" rather than "this request is wrong", so they
 * become a fast 503 instead of a 500. Matched by name and message because ioredis, the MongoDB driver and
 * mongoose each have their own classes.
 */
const OUTAGE_NAMES = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MaxRetriesPerRequestError',
  'OutcomeUnknownError',
]);

const OUTAGE_MESSAGES = [
  /Stream isn't writeable/i,
  /Connection is closed/i,
  /Command timed out/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/,
  /before initial connection is complete/i,
  /Client must be connected/i,
  /Redis did not answer within/,
  // A Redis Cluster moving a slot or electing a master: the request did not run, and a retry will find it.
  /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|LOADING) /,
  // ioredis' Cluster client while it re-reads the slots after a failover, and a command whose node went away.
  /Cluster isn't ready/,
  /Command aborted due to connection close/,
];

/**
 * An EXECABORT whose queued commands were refused for an outage (ioredis keeps their errors in
 * `previousErrors`): the transaction never ran. One refused for a bad command is not an outage.
 */
const abortedByOutage = (err: Error): boolean => {
  const previous = (err as { previousErrors?: unknown }).previousErrors;
  return (
    /^EXECABORT/.test(err.message) &&
    Array.isArray(previous) &&
    previous.length > 0 &&
    previous.every((e) => isDependencyOutage(e))
  );
};

/**
 * A Redis transaction whose reply says neither that it ran nor that it failed: EXEC answered nothing, or not
 * the replies it queued (a Redis Cluster failover under the MULTI can do that). The caller must find out
 * what happened, as after a timeout; if it cannot, the request is a 503 like any outage.
 */
export class OutcomeUnknownError extends Error {
  override name = 'OutcomeUnknownError';
}

export function isDependencyOutage(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (OUTAGE_NAMES.has(e.name)) return true;
    if (OUTAGE_MESSAGES.some((re) => re.test(e.message))) return true;
    if (abortedByOutage(e)) return true;
  }
  return false;
}
