import { setTimeout as sleep } from 'node:timers/promises';
import { type Locator } from 'playwright-core';

/**
 * Reads something off the page until a jest assertion on it passes, or fails with that assertion's own
 * message at the deadline: the page changes on its own (polling, images loading), so a check waits for it.
 */
export async function see<T>(
  read: () => Promise<T>,
  assert: (value: T) => void,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let failure: unknown;
    try {
      const value = await read();
      assert(value);
      return value;
    } catch (err) {
      failure = err;
    }
    if (Date.now() > deadline) throw failure;
    await sleep(100);
  }
}

/** The element's visible text now (empty when it is not there yet). */
export const textOf = (locator: Locator): Promise<string> =>
  locator.innerText({ timeout: 250 }).then(
    (t) => t.trim(),
    () => '',
  );
export const textsOf = (locator: Locator): Promise<string[]> =>
  locator.allInnerTexts().then((list) => list.map((t) => t.trim()));
