/**
 * Images per second over the steady state: from the end of the first wave (the S-th completion, once every
 * endpoint has been fed and warmed up) to the last completion. Start-up (connections, the first BullMQ
 * fetches, profile and secret look-ups) is outside it; every hand-off from one job to the next is inside.
 */
export function steadyRate(completionsMs: number[], endpoints: number): number {
  const sorted = [...completionsMs].sort((a, b) => a - b);
  const first = sorted[endpoints - 1];
  const last = sorted[sorted.length - 1];
  if (first === undefined || last === undefined || last <= first) return Number.NaN;
  return ((sorted.length - endpoints) * 1000) / (last - first);
}
