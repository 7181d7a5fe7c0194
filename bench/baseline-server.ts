/**
 * Baseline for the benchmark: a plain SDK MCP server over stdio that calls the
 * same tool function in-process — no sandbox, no policy, no audit.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";

const toolDir = process.argv[2]!;
const mod = (await import(pathToFileURL(join(toolDir, "index.js")).href)) as { default: (input: unknown, ctx: unknown) => Promise<unknown> };
const ctx = { log() {}, progress() {}, env: {} };
const server = new Server({ name: "baseline", version: "1" }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: [{ name: "word_stats", inputSchema: { type: "object" } }] }));
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  const output = (await mod.default(req.params.arguments, ctx)) as Record<string, unknown>;
  return { content: [{ type: "text", text: JSON.stringify(output) }], structuredContent: output };
});
await server.connect(new StdioServerTransport());
