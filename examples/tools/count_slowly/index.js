// count_slowly: reports progress at each step. There are no timers in the isolate,
// so "slowly" is busy work; a cancelled or timed-out call disposes the isolate mid-loop.

/**
 * @param {{ n: number, workPerStep?: number }} input
 * @param {import("mcp-warden/tool").ToolContext} ctx
 */
export default async function run(input, ctx) {
  const work = input.workPerStep ?? 200_000;
  let checksum = 0;
  for (let i = 1; i <= input.n; i++) {
    for (let k = 0; k < work; k++) checksum = (checksum * 31 + k) | 0;
    ctx.progress(i, input.n);
    ctx.log("info", `counted ${i} of ${input.n}`);
    // Yield to the host between steps so progress and cancellation can be delivered.
    await Promise.resolve();
  }
  ctx.log("debug", `checksum ${checksum}`);
  return { counted: input.n };
}
