import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../src/logger.js";
import { openRuntime, type Runtime } from "../../src/runtime/open.js";
import { readAudit } from "../helpers/audit-read.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";

const SECRET = "sk-e2e-secret-value-9";

/** The whole path for isolate tools: ctx.fetch / ctx.fs / ctx.env through the broker, the sandbox and the audit log. */
describe("capabilities through the broker (isolate tools)", () => {
  let api: Server;
  let port = 0;
  let hits = 0;
  let runtime: Runtime;
  let ws: ReturnType<typeof makeWorkspace>;

  before(async () => {
    api = createServer((req, res) => {
      hits++;
      if (req.url === "/redirect-out") {
        res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data" }).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null }));
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
    port = (api.address() as AddressInfo).port;
    const fetcher = `export default async function run(input, ctx) { const r = await ctx.fetch(input.url); return { status: r.status, body: await r.text() }; }\n`;
    ws = makeWorkspace({
      tools: {
        fetcher: { manifest: isolateManifest("fetcher", { capabilities: { network: { allow: [`http://127.0.0.1:${port}`, `http://localhost:${port}`] } } }), files: { "index.js": fetcher } },
        keyed: {
          manifest: isolateManifest("keyed", { capabilities: { network: { allow: [`http://127.0.0.1:${port}`] }, env: ["API_KEY"] } }),
          files: {
            "index.js": `export default async function run(input, ctx) { const r = await ctx.fetch("http://127.0.0.1:${port}/k", { headers: { authorization: "Bearer " + ctx.env.API_KEY } }); return { body: await r.json(), keys: Object.keys(ctx.env) }; }\n`,
          },
        },
        nokey: { manifest: isolateManifest("nokey"), files: { "index.js": "export default async function run(input, ctx) { return { key: ctx.env.API_KEY ?? null, keys: Object.keys(ctx.env) }; }\n" } },
        offline: { manifest: isolateManifest("offline"), files: { "index.js": fetcher } },
        files: {
          manifest: isolateManifest("files", { effect: "write", capabilities: { filesystem: [{ volume: "ws", access: "read-write" }, { volume: "docs", access: "read" }] } }),
          files: {
            "index.js": `export default async function run(input, ctx) {
  if (input.op === "write") { await ctx.fs.writeFile(input.path, input.text); return { ok: true }; }
  if (input.op === "read") return { text: await ctx.fs.readFile(input.path, "utf8") };
  return { names: await ctx.fs.readdir(input.path) };
}\n`,
          },
        },
      },
      config: {
        volumes: { ws: { path: "./vol/ws" }, docs: { path: "./vol/docs" } },
        secrets: { API_KEY: { env: "WARDEN_E2E_API_KEY" } },
        grants: {
          fetcher: { network: [{ host: `http://127.0.0.1:${port}`, allowPrivate: true }, `http://localhost:${port}`] },
          keyed: { network: [{ host: `http://127.0.0.1:${port}`, allowPrivate: true }], env: ["API_KEY"] },
        },
      },
    });
    mkdirSync(join(ws.dir, "vol", "ws"), { recursive: true });
    mkdirSync(join(ws.dir, "vol", "docs"), { recursive: true });
    mkdirSync(join(ws.dir, "vol", "ws-evil"), { recursive: true });
    writeFileSync(join(ws.dir, "vol", "docs", "readme.txt"), "docs content");
    writeFileSync(join(ws.dir, "vol", "ws-evil", "canary.txt"), "canary");
    await approveAll(ws);
    process.env.WARDEN_E2E_API_KEY = SECRET;
    runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  });
  after(async () => {
    await runtime?.close();
    api?.close();
  });

  const call = (tool: string, input: unknown) => runtime.broker.call(tool, input, { actor: "test", signal: new AbortController().signal });

  test("a granted host with allowPrivate is reached, and the request is in the audit record", async () => {
    const r = await call("fetcher", { url: `http://127.0.0.1:${port}/hello` });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.match(JSON.stringify(r.ok && r.output), /hello/);
    const rec = readAudit(ws.auditFile).find((a) => a.callId === r.callId)!;
    assert.deepEqual((rec.egress as Array<{ host: string; status: number }>).map((e) => [e.host, e.status]), [["127.0.0.1", 200]]);
  });

  test("a declared host that resolves to loopback without allowPrivate is refused, naming the grant", async () => {
    const before = hits;
    const r = await call("fetcher", { url: `http://localhost:${port}/x` });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, "E_CAPABILITY_DENIED");
    assert.match(!r.ok ? r.error.message : "", /loopback/);
    assert.match(!r.ok ? r.error.message : "", /allowPrivate/);
    assert.equal(hits, before, "no connection was made");
  });

  test("a tool without network capability cannot fetch at all", async () => {
    const before = hits;
    const r = await call("offline", { url: `http://127.0.0.1:${port}/x` });
    assert.equal(!r.ok && r.error.code, "E_CAPABILITY_DENIED");
    assert.match(!r.ok ? r.error.message : "", /network/);
    assert.equal(hits, before);
  });

  test("a redirect from the allowed host to the metadata endpoint is refused", async () => {
    const r = await call("fetcher", { url: `http://127.0.0.1:${port}/redirect-out` });
    assert.equal(!r.ok && r.error.code, "E_CAPABILITY_DENIED");
    assert.match(!r.ok ? r.error.message : "", /169\.254\.169\.254|not in the allowlist|redirect/i);
  });

  test("a granted secret is usable but redacted from output; an ungranted tool sees no secret", async () => {
    const r = await call("keyed", {});
    assert.equal(r.ok, true, JSON.stringify(r));
    const out = r.ok ? (r.output as { body: { auth: string }; keys: string[] }) : null;
    assert.equal(out?.body.auth, "Bearer [REDACTED]", "the API got the key; the client sees it redacted");
    assert.deepEqual(out?.keys, ["API_KEY"]);
    const n = await call("nokey", {});
    assert.deepEqual(n.ok && n.output, { key: null, keys: [] });
    assert.ok(!readFileSync(ws.auditFile, "utf8").includes(SECRET));
  });

  test("files: write and read inside the volume; escapes, prefix tricks and writes on read grants are refused", async () => {
    assert.equal((await call("files", { op: "write", path: "/mnt/ws/a.txt", text: "hi" })).ok, true);
    assert.deepEqual((await call("files", { op: "read", path: "/mnt/ws/a.txt" })) .ok, true);
    assert.equal(readFileSync(join(ws.dir, "vol", "ws", "a.txt"), "utf8"), "hi");
    for (const path of ["/mnt/ws/../ws-evil/canary.txt", "/mnt/ws-evil/canary.txt", "/etc/passwd"]) {
      const r = await call("files", { op: "read", path });
      assert.equal(!r.ok && r.error.code, "E_CAPABILITY_DENIED", path);
      assert.ok(!JSON.stringify(r).includes(ws.dir), "no host path in the message");
    }
    const ro = await call("files", { op: "write", path: "/mnt/docs/readme.txt", text: "defaced" });
    assert.equal(!ro.ok && ro.error.code, "E_CAPABILITY_DENIED");
    assert.equal(readFileSync(join(ws.dir, "vol", "docs", "readme.txt"), "utf8"), "docs content");
    const rec = readAudit(ws.auditFile).find((a) => a.callId === ro.callId)!;
    assert.ok((rec.files as Array<{ denied?: string }>).some((f) => f.denied), "the refused write is in the audit record");
  });
});
