import { type CastforgeClient, createCastforgeClient } from '@castforge/client';

type Route = (request: Request) => Response | Promise<Response> | undefined;

export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/**
 * The real client over a scripted fetch: each request goes to the first route that answers it, and is
 * recorded. Components are tested against answers of the real shapes (SPEC §8 errors included).
 */
export function scriptedClient(
  routes: Route[],
  apiKey = 'k_test',
): { client: CastforgeClient; sent: Request[] } {
  const sent: Request[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    sent.push(request.clone());
    for (const route of routes) {
      const answer = await route(request);
      if (answer) return answer;
    }
    return json(404, {
      error_code: 'NOT_FOUND',
      message: `no route for ${request.url}`,
      detail: [],
      request_id: 't',
    });
  };
  return {
    client: createCastforgeClient({
      baseUrl: 'http://api.test',
      apiKey,
      fetch,
      retry: { retries: 0 },
    }),
    sent,
  };
}

export const when =
  (
    method: string,
    path: string | RegExp,
    answer: (request: Request) => Response | Promise<Response>,
  ): Route =>
  (request) => {
    const { pathname } = new URL(request.url);
    const matches = typeof path === 'string' ? pathname === path : path.test(pathname);
    return request.method === method && matches ? answer(request) : undefined;
  };
