import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { WardenError } from "../../../src/errors.js";
import { egress, grant, okValue, refusal } from "./fetch-harness.js";
import { startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

let server: LoopbackServer;
const held: import("node:http").ServerResponse[] = [];

before(async () => {
  server = await startLoopbackServer((req, res) => {
    const path = req.url ?? "/";
    if (path === "/big-chunked") {
      // No Content-Length: only the running count can stop it.
      res.write(Buffer.alloc(512 * 1024, 97));
      res.write(Buffer.alloc(512 * 1024, 98));
      return res.end(Buffer.alloc(1024 * 1024, 99));
    }
    if (path === "/big-declared") {
      res.setHeader("content-length", String(4 * 1024 * 1024));
      return res.end(Buffer.alloc(4 * 1024 * 1024, 97));
    }
    if (path === "/hang") {
      held.push(res);
      return res.write("partial");
    }
    res.end("ok");
  });
});
after(async () => {
  for (const res of held) res.destroy();
  await server.close();
});

const granted = () => [grant(`http://127.0.0.1:${server.port}`, true)];

describe("bodies are bounded", () => {
  test("a response body past maxResponseBytes is cut off and refused (running count)", async () => {
    const { fetch, records } = egress(granted(), { maxResponseBytes: 64 * 1024 });
    refusal(await fetch({ url: `${server.origin}/big-chunked` }), "E_CAPABILITY_DENIED", /response from 127\.0\.0\.1:\d+ is larger than the limit of 65536 bytes/);
    assert.equal(records.length, 1);
    assert.equal(records[0]?.status, null);
    assert.ok(records[0]!.bytes > 64 * 1024 && records[0]!.bytes < 2 * 1024 * 1024, `stopped early, read ${records[0]!.bytes}`);
    assert.equal(records[0]?.denied, "response over 65536 bytes");
  });

  test("a declared Content-Length past the bound is refused without reading the body", async () => {
    const { fetch, records } = egress(granted(), { maxResponseBytes: 64 * 1024 });
    refusal(await fetch({ url: `${server.origin}/big-declared` }), "E_CAPABILITY_DENIED", /larger than the limit/);
    assert.equal(records[0]?.bytes, 0);
  });

  test("HEAD may declare a large Content-Length (there is no body)", async () => {
    const { fetch } = egress(granted(), { maxResponseBytes: 64 * 1024 });
    assert.equal(okValue(await fetch({ url: `${server.origin}/big-declared`, method: "HEAD" })).status, 200);
  });

  test("a response within the bound is returned whole", async () => {
    const { fetch } = egress(granted(), { maxResponseBytes: 3 * 1024 * 1024 });
    assert.equal(okValue(await fetch({ url: `${server.origin}/big-chunked` })).body.byteLength, 2 * 1024 * 1024);
  });

  test("a request body past maxRequestBytes is refused before connecting", async () => {
    const before = server.connections;
    const { fetch, records } = egress(granted(), { maxRequestBytes: 1024 });
    refusal(await fetch({ url: `${server.origin}/`, method: "POST", body: "x".repeat(1025) }), "E_CAPABILITY_DENIED",
      /request body of 1025 bytes from fetch_weather exceeds the limit of 1024 bytes/);
    refusal(await fetch({ url: `${server.origin}/`, method: "POST", body: new Uint8Array(4096) }), "E_CAPABILITY_DENIED", /4096 bytes/);
    assert.equal(server.connections, before, "no connection was attempted");
    assert.equal(records.length, 2);
    assert.match(records[0]?.denied ?? "", /exceeds the limit/);
    okValue(await fetch({ url: `${server.origin}/`, method: "POST", body: "é".repeat(512) }));
  });
});

describe("the abort signal stops a request at once", () => {
  test("aborting mid-response ends the call with E_CANCELLED and closes the connection", async () => {
    const { fetch, records } = egress(granted());
    const controller = new AbortController();
    const started = Date.now();
    const pending = fetch({ url: `${server.origin}/hang` }, controller.signal);
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    const closed = new Promise((r) => held.at(-1)!.once("close", r));
    controller.abort();
    refusal(await pending, "E_CANCELLED", /cancelled/);
    await closed;
    assert.ok(Date.now() - started < 2000);
    assert.equal(records[0]?.status, null);
  });

  test("the deadline's own code is kept (E_TIMEOUT)", async () => {
    const { fetch } = egress(granted());
    const controller = new AbortController();
    const pending = fetch({ url: `${server.origin}/hang` }, controller.signal);
    setTimeout(() => controller.abort(new WardenError("E_TIMEOUT", "fetch_weather exceeded its 5000 ms deadline")), 50);
    refusal(await pending, "E_TIMEOUT", /deadline/);
  });

  test("an already aborted signal makes no connection", async () => {
    const before = server.connections;
    const { fetch } = egress(granted());
    refusal(await fetch({ url: `${server.origin}/` }, AbortSignal.abort()), "E_CANCELLED", /cancelled/);
    assert.equal(server.connections, before);
  });
});

describe("request headers a tool may not set", () => {
  for (const [name, value] of [
    ["Host", "internal.example"],
    ["connection", "upgrade"],
    ["Upgrade", "websocket"],
    ["transfer-encoding", "chunked"],
    ["content-length", "0"],
    ["proxy-authorization", "Basic x"],
    ["Proxy-Connection", "keep-alive"],
    ["te", "trailers"],
    ["expect", "100-continue"],
  ] as const) {
    test(`${name} is refused before connecting`, async () => {
      const before = server.connections;
      const { fetch } = egress(granted());
      refusal(await fetch({ url: `${server.origin}/`, headers: { [name]: value } }), "E_CAPABILITY_DENIED", new RegExp(`may not set the ${name.toLowerCase()} header`));
      assert.equal(server.connections, before);
    });
  }

  test("CR/LF in a header value (header injection) is refused", async () => {
    const { fetch } = egress(granted());
    refusal(await fetch({ url: `${server.origin}/`, headers: { "x-a": "1\r\nHost: evil" } }), "E_CAPABILITY_DENIED", /CR, LF or NUL/);
  });

  test("methods outside the usual set (CONNECT, TRACE) are refused", async () => {
    const { fetch } = egress(granted());
    refusal(await fetch({ url: `${server.origin}/`, method: "CONNECT" }), "E_CAPABILITY_DENIED", /method "CONNECT" is not allowed/);
    refusal(await fetch({ url: `${server.origin}/`, method: "TRACE" }), "E_CAPABILITY_DENIED", /method "TRACE"/);
  });
});

describe("the host's proxy environment is ignored", () => {
  test("HTTP_PROXY / HTTPS_PROXY do not reroute ctx.fetch", async () => {
    const proxy = await startLoopbackServer((_req, res) => res.end("via proxy"));
    const saved = { ...process.env };
    Object.assign(process.env, { HTTP_PROXY: proxy.origin, http_proxy: proxy.origin, HTTPS_PROXY: proxy.origin, https_proxy: proxy.origin, NO_PROXY: "" });
    try {
      const { fetch } = egress(granted());
      assert.equal(Buffer.from(okValue(await fetch({ url: `${server.origin}/` })).body).toString(), "ok");
      assert.equal(proxy.connections, 0);
    } finally {
      for (const key of ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY"]) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
      await proxy.close();
    }
  });
});
