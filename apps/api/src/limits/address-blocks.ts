import { sha256Hex } from '@castforge/core';
import { type Request } from 'express';
import { type Decision } from './limiter';

/** More blocked addresses than this and the expired ones are dropped; past it again, all of them. */
const MAX_ENTRIES = 50_000;

/**
 * Client addresses refused until a time, in this process's memory: an address that spent its budget
 * of failed authentications is refused here without asking Redis or MongoDB anything. Each API
 * process learns of the block from the shared budget in Redis at the address's next failure.
 */
export function createAddressBlocks(now: () => number = Date.now) {
  const until = new Map<string, number>();
  return {
    add(address: string, decision: Decision) {
      if (until.size >= MAX_ENTRIES) {
        for (const [key, end] of until) if (end <= now()) until.delete(key);
        if (until.size >= MAX_ENTRIES) until.clear();
      }
      until.set(address, now() + Math.max(1, decision.resetSeconds) * 1000);
    },
    /** The refusal to give this address, or undefined when it is not blocked. */
    remaining(address: string): Decision | undefined {
      const end = until.get(address);
      if (end === undefined) return undefined;
      const ms = end - now();
      if (ms <= 0) {
        until.delete(address);
        return undefined;
      }
      return { allowed: false, remaining: 0, resetSeconds: Math.ceil(ms / 1000) };
    },
  };
}

/** How long a credential that authenticated is let past a block of its address (see below). */
const RECENT_MS = 10 * 60_000;

const credentialOf = (req: Request) =>
  sha256Hex(`${req.get('x-api-key') ?? ''}\n${req.headers.authorization ?? ''}`);

/**
 * Digests of the credentials that authenticated in this process in the last 10 minutes. A blocked
 * address is refused before its key is looked up, but a client behind the same address (a NAT, an
 * office) whose key authenticated recently is let on to authentication, which its key store then
 * answers from its cache: the block stops floods of unknown keys, not the address's known clients.
 */
export function createRecentCredentials(now: () => number = Date.now) {
  const until = new Map<string, number>();
  return {
    remember(req: Request) {
      if (until.size >= MAX_ENTRIES) until.clear();
      until.set(credentialOf(req), now() + RECENT_MS);
    },
    known(req: Request): boolean {
      const digest = credentialOf(req);
      const end = until.get(digest);
      if (end !== undefined && end <= now()) until.delete(digest);
      return end !== undefined && end > now();
    },
  };
}
