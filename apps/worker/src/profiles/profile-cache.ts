import { type ProfileDoc, type ProfileRepository } from '@castforge/core';

/**
 * Profile versions are immutable, so a version read once is good forever: a campaign of 1000 jobs over
 * 10 profiles reads MongoDB about 10 times. Concurrent misses for one version share a single read.
 */
export function createProfileCache(
  profiles: Pick<ProfileRepository, 'resolveVersion'>,
  counters: { hit(): void; miss(): void },
  maxEntries = 10_000,
) {
  const entries = new Map<string, Promise<ProfileDoc | null>>();
  return {
    get(tenantId: string, profileId: string, version: number): Promise<ProfileDoc | null> {
      const key = `${tenantId}\u0000${profileId}\u0000${version}`;
      const cached = entries.get(key);
      if (cached) {
        counters.hit();
        // Refresh its place so the least recently used version is the one evicted.
        entries.delete(key);
        entries.set(key, cached);
        return cached;
      }
      counters.miss();
      const loading = profiles.resolveVersion(tenantId, profileId, version);
      entries.set(key, loading);
      // A failed read (MongoDB away) is not remembered; a version that does not exist is.
      loading.catch(() => entries.delete(key));
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      return loading;
    },
  };
}
export type ProfileCache = ReturnType<typeof createProfileCache>;
