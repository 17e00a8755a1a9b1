/** What the bench's server processes are started with (JSON in argv), and what they report back. */
export interface ServerSettings {
  side: 'ours' | 'bare';
  redisUrl: string;
  /** Every key of this server goes under it. */
  prefix: string;
  mongoUri: string;
  /** The result store's folder (ours only). */
  dataDir: string;
  /** The tenant whose API key the server issues (ours only). */
  tenant: string;
}

export interface StartedServer {
  port: number;
  /** An API key of `tenant` (ours); the bare app authenticates nothing. */
  apiKey: string | null;
  close(): Promise<void>;
}

/** Messages over the IPC channel between the bench and a server or load process. */
export type ServerReport =
  { type: 'ready'; port: number; apiKey: string | null } | { type: 'cpu'; usage: NodeJS.CpuUsage };
