/**
 * Issue #16 item 3: a tool started ctx.fetch requests to a server dripping a
 * byte per 100 ms; the call ended E_TIMEOUT but every connection stayed open
 * (192 after 6 calls) and their egress was missing from the audit record. The
 * end of a call aborts everything it started on the host (the broker's
 * per-call controller), and what was sent before the abort is audited.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../src/logger.js";
import { openRuntime, type Runtime } from "../../src/runtime/open.js";
import { readAudit } from "../helpers/audit-read.js";
import { approveAll, isolateManifest, makeWorkspace } from "../helpers/workspace.js";

const FETCHES = 6;

describe("the end of a call aborts its host requests", () => {
  let server: Server;
  const open = new Set<Socket>();
  let requests = 0;
  let runtime: Runtime;
  let ws: ReturnType<typeof makeWorkspace>;

  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { "content-type": "text/plain" });
      const drip = setInterval(() => res.write("x"), 100);
      const stop = setTimeout(() => (clearInterval(drip), res.end()), 60_000);
      res.on("close", () => (clearInterval(drip), clearTimeout(stop)));
    });
    server.on("connection", (socket: Socket) => {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    ws = makeWorkspace({
      tools: {
        dripper: {
          manifest: isolateManifest("dripper", { limits: { timeoutMs: 1000, memoryMb: 64, outputBytes: 65536 }, capabilities: { network: { allow: [`http://127.0.0.1:${port}`] } } }),
          files: {
            "index.js": `export default async function run(input, ctx) {
  await Promise.all(Array.from({ length: ${FETCHES} }, (_, i) => ctx.fetch("http://127.0.0.1:${port}/drip/" + i)));
  return "never";
}\n`,
          },
        },
      },
      config: { grants: { dripper: { network: [{ host: `http://127.0.0.1:${port}`, allowPrivate: true }] } } },
    });
    await approveAll(ws);
    runtime = await openRuntime(ws.configPath, createLogger({ level: "silent" }));
  });
  after(async () => {
    await runtime?.close();
    server.closeAllConnections();
    server.close();
  });

  test("a timed-out call leaves no connection open, and its requests are in its audit record", async () => {
    const result = await runtime.broker.call("dripper", {}, { actor: "test", signal: new AbortController().signal });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error.code, "E_TIMEOUT");
    assert.equal(requests, FETCHES, "every request reached the server before the deadline");
    // State-based: the sockets close as soon as the host side destroys them.
    for (let i = 0; i < 100 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 30));
    assert.equal(open.size, 0, `${open.size} connections of the ended call are still open`);
    const record = readAudit(ws.auditFile).find((a) => a.callId === result.callId)!;
    const egress = record.egress as Array<{ host: string; status: number | null; bytes: number; method: string }>;
    assert.equal(egress.length, FETCHES, `audit egress: ${JSON.stringify(egress)}`);
    for (const e of egress) {
      assert.equal(e.host, "127.0.0.1");
      assert.equal(e.method, "GET");
      assert.equal(e.status, null, "the response never finished");
    }
  });
});
