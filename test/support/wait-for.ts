/**
 * Polls until `check` returns a value (not undefined/false), or fails after a generous
 * deadline naming what never happened. The deadline bounds a hung test; it asserts nothing
 * about speed.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  deadlineMs = 60_000,
  everyMs = 200,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
