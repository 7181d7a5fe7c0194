const DIR = "/mnt/workspace/notes";

/**
 * @param {{action: "save"|"list"|"read", title?: string, text?: string}} input
 * @param {import("mcp-warden/tool").ToolContext} ctx
 */
export default async function run(input, ctx) {
  if (input.action === "list") {
    await ctx.fs.mkdir(DIR, { recursive: true });
    const names = await ctx.fs.readdir(DIR);
    return { notes: names.filter((n) => n.endsWith(".txt")).map((n) => n.slice(0, -4)) };
  }
  if (!input.title) throw new Error("title is required to save or read a note");
  const path = `${DIR}/${input.title}.txt`;
  if (input.action === "read") return { text: await ctx.fs.readFile(path, "utf8") };
  await ctx.fs.mkdir(DIR, { recursive: true });
  await ctx.fs.writeFile(path, input.text ?? "");
  ctx.log("info", `saved ${path}`);
  return { saved: path };
}
