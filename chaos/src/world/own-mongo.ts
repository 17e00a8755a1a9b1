import { reapOnExit } from '../support/reaper';
import { type EmbeddedMongo, startEmbeddedMongo } from '@castforge/core';
import { sleep } from '../support/time';

export interface OwnMongo {
  uri: string;
  /**
   * Makes MongoDB unreachable for `ms` without losing its data: the embedded server keeps everything in
   * memory, so stopping it would wipe tenants, keys and profiles. SIGSTOP freezes the process instead (its
   * sockets stay open and nothing answers: what a hung primary looks like); SIGCONT resumes it.
   */
  freeze(ms: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startOwnMongo(): Promise<OwnMongo> {
  const mongo: EmbeddedMongo = await startEmbeddedMongo();
  let frozen = false;
  const thaw = () => {
    if (frozen) mongo.process.kill('SIGCONT');
    frozen = false;
  };
  // A frozen (or any) child must never outlive the run, whatever ends it.
  const forget = reapOnExit(() => {
    thaw();
    mongo.process.kill('SIGKILL');
  });
  return {
    uri: mongo.uri,
    async freeze(ms) {
      frozen = mongo.process.kill('SIGSTOP');
      try {
        await sleep(ms);
      } finally {
        thaw();
      }
    },
    async stop() {
      forget();
      thaw();
      await mongo.stop();
    },
  };
}
