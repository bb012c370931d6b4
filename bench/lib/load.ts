/** Load shapes for benchmarks: closed loop (fixed concurrency) and open loop (arrivals on a schedule). */

/** `concurrency` clients, each sending `perClient` requests back to back; `send(i)` does request i. */
export async function closedLoop<T>(concurrency: number, perClient: number, send: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const client = async () => {
    for (let k = 0; k < perClient; k += 1) {
      const index = next;
      next += 1;
      results[index] = await send(index);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  return results;
}

/** Sends request i at `offsetsMs[i]` after the start, whatever is still in flight. */
export async function openLoop<T>(offsetsMs: readonly number[], send: (index: number) => Promise<T>): Promise<T[]> {
  const started = Date.now();
  return Promise.all(
    offsetsMs.map(
      (offset, index) =>
        new Promise<T>((resolve, reject) => {
          setTimeout(() => send(index).then(resolve, reject), Math.max(0, offset - (Date.now() - started)));
        }),
    ),
  );
}
