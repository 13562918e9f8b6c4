// A channel's shutdown: the turns it started get a grace period to finish before it disconnects.

/**
 * Waits for the intake (which may still start turns), then for every turn in flight, at most
 * `graceMs` in all. False when some were still running: their messages are answered after the
 * next start (each channel catches up on what it did not answer).
 */
export async function drainTurns(intake: Promise<unknown> | undefined, inflight: () => Iterable<Promise<unknown>>, graceMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const finished = await Promise.race([
    Promise.allSettled([intake]).then(() => Promise.allSettled([...inflight()])).then(() => true),
    new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), graceMs); }),
  ]);
  clearTimeout(timer);
  return finished;
}
