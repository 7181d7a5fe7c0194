/** Polls `check` until it holds, or fails naming what it waited for: tests wait for a state, never a fixed time. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 20_000, everyMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
