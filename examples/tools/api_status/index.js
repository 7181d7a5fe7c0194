/**
 * @param {{}} _input
 * @param {import("mcp-warden/tool").ToolContext} ctx
 */
export default async function run(_input, ctx) {
  const res = await ctx.fetch("http://127.0.0.1:8788/status", {
    headers: { authorization: `Bearer ${ctx.env.STATUS_API_KEY}` },
  });
  return { status: res.status, service: res.status === 200 ? await res.json() : null };
}
