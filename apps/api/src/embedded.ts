import { type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { createRegistry } from '@castforge/core';
import { type Express } from 'express';
import { type AppDeps, createApp } from './app';
import { type ApiConfig } from './config';
import { buildApiDeps } from './deps';
import { answerClientErrors } from './http/client-error';

export interface EmbeddedApi {
  deps: AppDeps;
  app: Express;
  server: Server;
  baseUrl: string;
  /** An API key of the tenant, issued on first use and remembered. */
  keyFor: (tenantId: string) => Promise<string>;
  /** Stops listening and closes the API's queues; the Redis and MongoDB connections stay the caller's. */
  close(): Promise<void>;
}

/**
 * The API app wired as index.ts wires it, on a free loopback port in this process: what the tests and the
 * benchmarks talk to. Keys it issues are labelled `keyLabel`.
 */
export async function startEmbeddedApi(
  config: ApiConfig,
  infra: Omit<Parameters<typeof buildApiDeps>[1], 'registry'>,
  keyLabel: string,
): Promise<EmbeddedApi> {
  const deps = await buildApiDeps(config, { ...infra, registry: createRegistry('api') });
  const app = createApp(deps);
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  answerClientErrors(server);
  const issued = new Map<string, string>();
  return {
    deps,
    app,
    server,
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyFor: async (tenantId) => {
      let key = issued.get(tenantId);
      if (!key) {
        key = (await deps.keys.create(tenantId, keyLabel)).api_key;
        issued.set(tenantId, key);
      }
      return key;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await deps.queues.close();
      await deps.outbox.close();
    },
  };
}
