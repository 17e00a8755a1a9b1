/**
 * Last-resort clean-up: whatever ends the chaos process (an exception, Ctrl-C, a jest timeout), the
 * servers and apps it started must not outlive it. One `exit` listener runs every registered kill.
 */
const kills = new Set<() => void>();
let listening = false;

export function reapOnExit(kill: () => void): () => void {
  kills.add(kill);
  if (!listening) {
    listening = true;
    process.once('exit', () => kills.forEach((k) => k()));
  }
  return () => kills.delete(kill);
}
