/**
 * Issue #16 item 3: when a call ends, the broker aborts its signal and writes
 * the audit record right after. Requests still in flight must be recorded
 * synchronously inside abort() (not a few ticks later, when the record may
 * already be written), exactly once, and their connections closed.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { after, before, test } from "node:test";
import { egress, grant } from "./fetch-harness.js";

let server: Server;
let port = 0;
let requests = 0;
const open = new Set<Socket>();

before(async () => {
  server = createServer((req, res) => {
    if (req.url === "/fast") return void res.end("ok");
    requests++;
    res.writeHead(200);
    const drip = setInterval(() => res.write("x"), 50);
    res.on("close", () => clearInterval(drip));
  });
  server.on("connection", (s: Socket) => (open.add(s), s.on("close", () => open.delete(s))));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

test("aborting the call's signal records every in-flight request synchronously, once, and closes its connections", async () => {
  const { fetch, records } = egress([grant(`http://127.0.0.1:${port}`, true)]);
  const controller = new AbortController();
  const pending = [0, 1, 2].map((i) => fetch({ url: `http://127.0.0.1:${port}/slow/${i}` }, controller.signal));
  for (let i = 0; i < 200 && requests < 3; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 120)); // some body bytes arrived
  assert.equal(records.length, 0);
  controller.abort();
  assert.equal(records.length, 3, "recorded inside abort(), before anything else can run");
  for (const r of records) {
    assert.equal(r.host, "127.0.0.1");
    assert.equal(r.status, null);
    assert.ok(r.bytes > 0, "the bytes received so far are kept");
  }
  for (const result of await Promise.all(pending)) assert.equal(result.ok, false);
  assert.equal(records.length, 3, "no second record for an aborted request");
  for (let i = 0; i < 100 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(open.size, 0);
});

test("an idle kept-alive connection of the call closes when the call's signal aborts, not only after the idle timeout", async () => {
  const { fetch } = egress([grant(`http://127.0.0.1:${port}`, true)]);
  const controller = new AbortController();
  const result = await fetch({ url: `http://127.0.0.1:${port}/fast` }, controller.signal);
  assert.equal(result.ok, true);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(open.size, 1, "the socket is pooled for reuse within the call");
  controller.abort();
  for (let i = 0; i < 25 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(open.size, 0, "closed at the call's end (the agent's idle timeout is 2 s)");
});
