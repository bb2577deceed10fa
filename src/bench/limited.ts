// Runs async work over a list with a bounded number in flight, so that
// setting up thousands of users neither floods the node with requests nor
// waits for them one by one. Results keep the order of `items`.
//
// After a failure no new item is started, and the failure is thrown only
// once the work already under way has ended, so that nothing it opens is
// left behind for the caller to miss.
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next;
      next += 1;
      try {
        results[index] = await work(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
