import http from 'node:http';
import https from 'node:https';
import { type LookupFunction } from 'node:net';

/** A URL the guard vetted, with the address it resolved to (UrlGuard.vet). */
export interface VettedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/**
 * An HTTP(S) request to a vetted URL that connects to the vetted address rather than resolving the host
 * again, so DNS cannot point the connection somewhere else in between (webhook deliveries and input images
 * alike). TLS still verifies the certificate against the URL's host; no agent keeps the socket; redirects are
 * the caller's to refuse.
 */
export function pinnedRequest(
  target: VettedTarget,
  options: { method: 'GET' | 'POST'; signal: AbortSignal; headers: http.OutgoingHttpHeaders },
  onResponse: (response: http.IncomingMessage) => void,
): http.ClientRequest {
  const { url, address, family } = target;
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return client.request(
    {
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: options.method,
      lookup: pinned,
      agent: false,
      signal: options.signal,
      headers: options.headers,
    },
    onResponse,
  );
}
