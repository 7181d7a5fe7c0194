/**
 * @param {{url: string}} input
 * @param {import("mcp-warden/tool").ToolContext} ctx
 */
export default async function run(input, ctx) {
  const res = await ctx.fetch(input.url, { headers: { accept: "application/json" } });
  ctx.log("info", `GET ${input.url} -> ${res.status}`);
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = await res.text();
  }
  return { status: res.status, body };
}
