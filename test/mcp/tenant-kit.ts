import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { writeConfigAtomically } from "../../src/config/write.js";
import { isolateManifest, type ToolSpec } from "../helpers/workspace.js";

/** A bearer token and the config entry for it. */
export function tokenFor(name: string, allow?: string[]) {
  const token = `${name}-token-${"x".repeat(16)}`;
  return { name, token, entry: { name, sha256: createHash("sha256").update(token).digest("hex"), ...(allow ? { allow } : {}) } };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Edits the config as an operator would (atomic rename, like `warden disable`). */
export async function editConfig(file: string, edit: (raw: Record<string, any>) => void): Promise<void> {
  const raw = JSON.parse(readFileSync(file, "utf8")) as Record<string, any>;
  edit(raw);
  await writeConfigAtomically(file, raw);
}

/**
 * A loopback service that holds every request until the test releases it: a
 * tool waiting on it holds its slot without burning CPU.
 */
export async function startGate() {
  const held: Array<{ tag: string; res: ServerResponse }> = [];
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const tag = new URL(req.url ?? "/", "http://x").searchParams.get("tag") ?? "";
    seen.push(tag);
    held.push({ tag, res });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    seen,
    held: () => held.map((h) => h.tag),
    release(tag?: string) {
      const i = tag === undefined ? 0 : held.findIndex((h) => h.tag === tag);
      if (i < 0) throw new Error(`no held request ${tag}`);
      const [h] = held.splice(i, 1);
      h!.res.end("{}");
    },
    releaseAll() {
      for (const h of held.splice(0)) h.res.end("{}");
    },
    close: () => new Promise<void>((r) => {
      for (const h of held.splice(0)) h.res.destroy();
      server.close(() => r());
    }),
  };
}

/** A read tool that waits at the gate (tagged by its input) and returns its tag. */
export function waiterTool(gateOrigin: string): { spec: ToolSpec; grant: Record<string, unknown> } {
  return {
    spec: {
      manifest: isolateManifest("waiter", {
        inputSchema: { type: "object", properties: { tag: { type: "string" } }, required: ["tag"] },
        capabilities: { network: { allow: [gateOrigin] } },
        limits: { timeoutMs: 60_000, memoryMb: 64, outputBytes: 4096 },
      }),
      files: { "index.js": `export default async function run(input, ctx) { await ctx.fetch("${gateOrigin}/?tag=" + encodeURIComponent(input.tag)); return { tag: input.tag }; }\n` },
    },
    grant: { network: [{ host: gateOrigin, allowPrivate: true }] },
  };
}
