import { Command } from 'ioredis';

/**
 * ioredis 5 loses `commandTimeout` for a command it sends a second time. A Redis Cluster pipeline or MULTI
 * that meets MOVED, ASK, TRYAGAIN, CLUSTERDOWN or a closed connection (a failover) is sent again whole, each
 * command with a fresh promise (`initPromise`), but a command that was answered the first time (MULTI's OK,
 * a QUEUED) keeps `isResolved = true`, and its timeout timer only fires for a command not yet resolved. If
 * the node then does not answer, the transaction waits until that connection closes: seen as submits that
 * hung for 19 s, and CI runs that timed out, while a master was killed under load (SPEC §13: an outage is a
 * fast 503, never a hang).
 *
 * A new promise is an unanswered command, so this makes `initPromise` say so. `isResolved` is read only by
 * the timeout timers. Applied once, on the prototype every ioredis client (BullMQ's too) shares.
 * Proven by command-timeout-fix.test.ts, which fails without it.
 */
interface CommandInternals {
  isResolved: boolean;
  initPromise: (this: CommandInternals) => void;
}

const prototype = Command.prototype as unknown as CommandInternals & { __resendTimeoutFixed?: true };
if (!prototype.__resendTimeoutFixed) {
  const initPromise = prototype.initPromise;
  prototype.initPromise = function () {
    this.isResolved = false;
    initPromise.call(this);
  };
  prototype.__resendTimeoutFixed = true;
}
