/**
 * The newcomer's demo: starts `warden serve` on examples/warden.config.json over
 * stdio with a real MCP client, lists the tools, makes a few calls (including
 * refused ones), and verifies the audit chain. A tiny loopback "team API" stands
 * in for the internet so the network examples work offline.
 */
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { readdirSync } from "node:fs";
import { formatVerifyReport, verifyAuditChain } from "../src/audit/index.js";
import { runCli } from "../src/cli/main.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const configPath = join(root, "examples", "warden.config.json");
const main = join(root, "dist", "src", "cli", "main.js");
const SECRET = "demo-status-key-1234";

// The operator reviews and approves each tool (binds the approval to its digest).
console.log("== warden approve <tool> --yes (the operator's review; see `warden approve` without --yes)");
for (const name of readdirSync(join(root, "examples", "tools")).sort()) {
  let out = "";
  await runCli(["approve", name, "--yes", "--config", configPath], { stdout: (t) => (out += t), stderr: (t) => (out += t) });
  console.log("  " + (out.trim().split("\n").pop() ?? ""));
}

const api = createServer((req, res) => {
  const authorized = req.headers.authorization === `Bearer ${SECRET}`;
  res.writeHead(authorized ? 200 : 401, { "content-type": "application/json" });
  res.end(JSON.stringify(authorized ? { service: "team-api", healthy: true, echoedKey: SECRET } : { error: "unauthorized" }));
});
await new Promise<void>((r) => api.listen(8788, "127.0.0.1", () => r()));

const transport = new StdioClientTransport({
  command: process.execPath,
  args: ["--no-node-snapshot", main, "serve", "--config", configPath],
  env: { ...(process.env as Record<string, string>), WARDEN_SECRET_STATUS_API_KEY: SECRET, WARDEN_LOG_LEVEL: "warn" },
});
const client = new Client({ name: "warden-demo", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
console.log(`\n== tools/list: ${tools.length} tools`);
for (const t of tools) console.log(`  ${t.name.padEnd(14)} ${t.annotations?.readOnlyHint ? "read" : t.annotations?.destructiveHint ? "destructive" : "write"}  ${t.description}`);

async function call(name: string, args: Record<string, unknown>, why: string) {
  // Client.callTool itself: error results carry no structuredContent (SPEC §8), so the SDK never throws on them.
  let r;
  try {
    r = await client.callTool({ name, arguments: args });
  } catch (err) {
    // Only an unknown tool is a JSON-RPC error: e.g. a hosted server that could not be approved without Docker.
    console.log(`\n== ${name} — ${why}\n  ${(err as Error).message}`);
    return;
  }
  // A hosted server's result may be content blocks only (text, image…): show the first text then.
  const firstText = (r.content as Array<{ type: string; text?: string }> | undefined)?.find((b) => b.type === "text")?.text;
  const shown = r.isError ? r._meta?.["mcp-warden/error"] : (r.structuredContent ?? firstText);
  console.log(`\n== ${name} ${JSON.stringify(args).slice(0, 80)}  — ${why}\n  ${JSON.stringify(shown).slice(0, 300)}`);
}

await call("word_stats", { text: "the quick brown fox jumps over the lazy dog the end" }, "pure compute in a fresh V8 isolate");
await call("notes", { action: "save", title: "hello", text: "written through ctx.fs" }, "a read-write volume");
await call("notes", { action: "list" }, "reading it back");
await call("api_status", {}, "a granted secret; the API echoes it back and warden redacts it");
await call("fetch_json", { url: "http://127.0.0.1:8788/status" }, "allowed host (allowPrivate granted) — the API refuses without the key");
await call("fetch_json", { url: "http://169.254.169.254/latest/meta-data" }, "cloud metadata: refused");
await call("word_stats", { text: 42 }, "bad input: refused before the sandbox runs");
await call("py_word_freq", { text: "to be or not to be" }, "a Python tool in a single-use container (needs Docker and `warden images build`; else E_SANDBOX_UNAVAILABLE)");
// Community MCP servers hosted unmodified (SPEC §15): each tool pinned at approval, each call through the broker.
await call("files_list_directory", { path: "/mnt/workspace" }, "the community filesystem server, confined to the workspace volume (needs Docker)");
await call("files_read_text_file", { path: "/etc/passwd" }, "outside its volume: the server cannot see it");
await call("everything_echo", { message: "hello through warden" }, "the community everything server (needs Docker)");
await call("pynotes_add_note", { text: "a note kept by a Python MCP server" }, "a stdlib Python MCP server, hosted unmodified (needs Docker)");

await client.close();
api.close();
const report = await verifyAuditChain(join(root, "examples", "warden-audit.jsonl"));
console.log(`\n== warden audit verify: ${formatVerifyReport(report)}\n`);
process.exit(report.ok ? 0 : 1);
