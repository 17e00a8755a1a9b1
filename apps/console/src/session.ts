import { type CastforgeClient, createCastforgeClient } from '@castforge/client';
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

/**
 * The API key lives in this tab's sessionStorage only: never a cookie (so no request carries it unasked and
 * no CSRF exists) and never the URL (so it is in no history, log or Referer). Closing the tab forgets it.
 */
const KEY = 'castforge.apiKey';

export const storedKey = (storage: Storage = sessionStorage): string | null => storage.getItem(KEY);
export const storeKey = (key: string, storage: Storage = sessionStorage) => storage.setItem(KEY, key);
export const forgetKey = (storage: Storage = sessionStorage) => storage.removeItem(KEY);

/** A client of the API that served this page. */
export const clientFor = (apiKey: string, baseUrl = window.location.origin): CastforgeClient =>
  createCastforgeClient({ baseUrl, apiKey });

export const ClientContext = createContext<CastforgeClient | null>(null);

export function useClient(): CastforgeClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient outside a signed-in console');
  return client;
}
