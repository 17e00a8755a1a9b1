/**
 * The official client documents `account()` as "a preflight check before expensive calls". A new user
 * who runs it while `npm start` is still bringing the worker up sees no operations yet (true then); once the
 * worker has started — and declared lock in its heartbeat — the identity call that follows must be accepted,
 * not refused 422 "no worker has started yet" because the API still holds the answer it gave the
 * preflight (SPEC §3b: the 422 is for an operation "no configured backend runs").
 */
import { type ApiHarness, type WorkerHarness, startApi, startWorker } from '@castforge/testkit';
import { type ImageServer, serve, startImageServer, testImage } from '@castforge/testkit/image-server';
import { sdkBody, sdkClient } from '@castforge/testkit/sdk-client';

describe('the official client’s preflight account() before the worker is up', () => {
  let api: ApiHarness;
  let worker: WorkerHarness | undefined;
  let images: ImageServer;

  beforeAll(async () => {
    images = await startImageServer({ '/face.png': serve(await testImage('png', 64, 64), 'image/png') });
    api = await startApi('story-sdk-startup', { INPUT_ALLOW_LOOPBACK: 'true' });
  });
  afterAll(async () => {
    await worker?.close();
    await api?.close();
    await images?.close();
  });

  it('does not make the identity call it makes once the worker has started fail', async () => {
    const ip = sdkClient(api.baseUrl, await api.keyFor('sdk-startup'));
    expect((await ip.account()).operations).toEqual([]);

    // startWorker resolves once the pool has started, its heartbeat (operations included) written.
    worker = await startWorker(api.services, { INPUT_ALLOW_LOOPBACK: 'true', SIMULATED_STEP_MS: '1' });
    const submitted = await ip
      .submit('identity/lock/image/v1', sdkBody.lock(images.at('/face.png'), 'on a pier'))
      .then(
        (queued) => ({ accepted: true, detail: queued.job_id }),
        (err: Error) => ({ accepted: false, detail: err.message }),
      );
    expect(submitted).toEqual({ accepted: true, detail: expect.stringMatching(/^job_/) });
    const { job } = await ip.poll('identity/lock/image/v1', submitted.detail);
    expect(job.status).toBe('completed');
  });
});
