/** Bounded concurrency for file work: many small reads and writes at once, never all at once. */

/** Small files on a local disk: past about this many in flight, libuv's pool only queues them. */
export const FILE_CONCURRENCY = 32;

/** Runs `work` on each item, at most `limit` at a time; results keep the items' order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Keeps up to `limit` writes running while the caller goes on; `drain` waits for all. */
export class WritePool {
  readonly #running = new Set<Promise<void>>();
  #error: unknown = null;

  constructor(private readonly limit = FILE_CONCURRENCY) {}

  /** Starts `work`; waits first if `limit` are already running. Throws an earlier failure. */
  async add(work: () => Promise<void>): Promise<void> {
    if (this.#error) throw this.#error;
    while (this.#running.size >= this.limit) await Promise.race(this.#running);
    const running: Promise<void> = work()
      .catch((error: unknown) => {
        this.#error ??= error;
      })
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }

  async drain(): Promise<void> {
    await Promise.all(this.#running);
    if (this.#error) throw this.#error;
  }
}
