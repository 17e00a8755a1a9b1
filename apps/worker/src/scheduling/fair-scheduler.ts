import { type LaneKind } from '@castforge/core';
import { type Endpoint } from '../inference/inference-backend';

export interface Lease {
  endpoint: Endpoint;
  /** Gives the slot back; the next waiting job (already prepared) gets it at once. Idempotent. */
  release(): void;
}

interface Waiter {
  tenantId: string;
  resolve(lease: Lease): void;
  reject(reason: unknown): void;
  cleanup(): void;
}

export class SchedulerClosedError extends Error {
  override name = 'SchedulerClosedError';
}

interface TenantLines {
  high: Waiter[];
  normal: Waiter[];
  campaign: Waiter[];
}

const isEmpty = (lines: TenantLines) => !lines.high.length && !lines.normal.length && !lines.campaign.length;

/**
 * Within a tenant: its priority lane first, then its single jobs and its campaigns take turns. `turn` says
 * which of the two goes next when both wait; it is the tenant's, and outlives moments with nothing waiting.
 */
function takeNext(
  lines: TenantLines,
  turn: 'normal' | 'campaign',
): { waiter: Waiter; next: 'normal' | 'campaign' } {
  if (lines.high.length) return { waiter: lines.high.shift()!, next: turn };
  const other = turn === 'normal' ? 'campaign' : 'normal';
  const served = lines[turn].length ? turn : other;
  return { waiter: lines[served].shift()!, next: served === 'normal' ? 'campaign' : 'normal' };
}

/**
 * GPU slots for one worker process: each endpoint runs at most `perEndpoint` jobs at once, and a free
 * slot goes to the tenant served least recently among those waiting (round-robin); within a tenant, its
 * priority lane first, then its single jobs and its campaigns in turn, first come first served within a
 * lane. So one tenant's 50,000 queued jobs take turns with another tenant's single job instead of running
 * ahead of it.
 */
/** Tenants whose last turn the scheduler remembers beyond those waiting now. */
const REMEMBERED = 256;

export function createFairScheduler(endpoints: Endpoint[], perEndpoint: number) {
  const inFlight = endpoints.map(() => 0);
  const maxSeen = endpoints.map(() => 0);
  const waiting = new Map<string, TenantLines>();
  const turns = new Map<string, 'normal' | 'campaign'>();
  const lastServed = new Map<string, number>();
  let tick = 0;
  let closed = false;

  const freeEndpoint = (): number => {
    let best = -1;
    for (let i = 0; i < endpoints.length; i++) {
      if (inFlight[i]! < perEndpoint && (best < 0 || inFlight[i]! < inFlight[best]!)) best = i;
    }
    return best;
  };

  const nextTenant = (): string | undefined => {
    let chosen: string | undefined;
    let oldest = Infinity;
    for (const tenantId of waiting.keys()) {
      const served = lastServed.get(tenantId) ?? 0;
      if (served < oldest) {
        oldest = served;
        chosen = tenantId;
      }
    }
    return chosen;
  };

  const grant = () => {
    for (;;) {
      const index = freeEndpoint();
      const tenantId = index < 0 ? undefined : nextTenant();
      if (tenantId === undefined) return;
      const lines = waiting.get(tenantId)!;
      const { waiter, next } = takeNext(lines, turns.get(tenantId) ?? 'normal');
      turns.set(tenantId, next);
      if (isEmpty(lines)) waiting.delete(tenantId);
      waiter.cleanup();
      inFlight[index]! += 1;
      maxSeen[index] = Math.max(maxSeen[index]!, inFlight[index]!);
      // Served order, oldest first (a Map keeps insertion order): tenants served long ago and not waiting are
      // forgotten, so what the scheduler holds is bounded by the tenants it serves now, not by every tenant
      // that ever had a job. A forgotten tenant that comes back counts as never served, which it nearly was.
      lastServed.delete(tenantId);
      lastServed.set(tenantId, ++tick);
      while (lastServed.size > REMEMBERED) {
        const oldest = lastServed.keys().next().value!;
        if (waiting.has(oldest)) break;
        lastServed.delete(oldest);
        turns.delete(oldest);
      }
      let released = false;
      waiter.resolve({
        endpoint: endpoints[index]!,
        release: () => {
          if (released) return;
          released = true;
          inFlight[index]! -= 1;
          grant();
        },
      });
    }
  };

  const remove = (waiter: Waiter) => {
    const lines = waiting.get(waiter.tenantId);
    if (!lines) return;
    for (const list of [lines.high, lines.normal, lines.campaign]) {
      const at = list.indexOf(waiter);
      if (at >= 0) list.splice(at, 1);
    }
    if (isEmpty(lines)) waiting.delete(waiter.tenantId);
  };

  return {
    /** Waits for a slot; rejects with `signal.reason` if the signal aborts first (cancel, shutdown). */
    acquire(tenantId: string, kind: LaneKind, signal: AbortSignal): Promise<Lease> {
      if (closed) return Promise.reject(new SchedulerClosedError('the worker is shutting down'));
      // The worker aborts with an Error (JobCancelledError, JobTimeoutError); anything else is wrapped.
      const reason = () =>
        signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
      if (signal.aborted) return Promise.reject(reason());
      return new Promise<Lease>((resolve, reject) => {
        const onAbort = () => {
          remove(waiter);
          reject(reason());
        };
        const waiter: Waiter = {
          tenantId,
          resolve,
          reject,
          cleanup: () => signal.removeEventListener('abort', onAbort),
        };
        signal.addEventListener('abort', onAbort, { once: true });
        let lines = waiting.get(tenantId);
        if (!lines) waiting.set(tenantId, (lines = { high: [], normal: [], campaign: [] }));
        lines[kind].push(waiter);
        grant();
      });
    },

    /** Refuses new waiters and sends every waiting job back (its BullMQ job returns to the queue). */
    close() {
      closed = true;
      for (const lines of waiting.values()) {
        for (const waiter of [...lines.high, ...lines.normal, ...lines.campaign]) {
          waiter.cleanup();
          waiter.reject(new SchedulerClosedError('the worker is shutting down'));
        }
      }
      waiting.clear();
    },

    get slots() {
      return endpoints.length * perEndpoint;
    },
    busy: () => inFlight.reduce((a, b) => a + b, 0),
    waitingCount: () =>
      [...waiting.values()].reduce((n, l) => n + l.high.length + l.normal.length + l.campaign.length, 0),
    /** Jobs in flight now at each endpoint, by index in INFERENCE_URLS. */
    inFlightNow: () => [...inFlight],
    /** The most jobs ever in flight at once at each endpoint (bench:gpu checks it never passed the limit). */
    maxInFlightSeen: () => [...maxSeen],
  };
}
export type FairScheduler = ReturnType<typeof createFairScheduler>;
