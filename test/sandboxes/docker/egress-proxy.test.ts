/**
 * The egress proxy on loopback, without Docker: attribution by source
 * address, the shared authorizeEgress rule for CONNECT (https) and
 * absolute-URI (http) requests, and audit records for every attempt.
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { connect, createServer as createTcpServer, type Server as TcpServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { EgressProxy } from "../../../sandboxes/docker/egress-proxy.js";
import { authorizeEgress, EGRESS_HOST_MAX, EGRESS_RECORDS_MAX } from "../../../src/capabilities/network/index.js";
import { createToolHost } from "../../../src/broker/tool-host.js";
import type { RegisteredTool } from "../../../src/broker/registry.js";
import type { EgressRecord, NetworkGrant } from "../../../src/capabilities/types.js";

describe("egress proxy", () => {
  let proxy: EgressProxy;
  let proxyPort = 0;
  let upstream: Server;
  let upstreamPort = 0;
  let records: EgressRecord[] = [];
  const seen: string[] = [];

  /** Binds with the call's records kept as the broker keeps them: through the call's ToolHost (its per-call bound). */
  const bindWith = (grants: NetworkGrant[]): void => {
    const tool = { name: "net_tool", capabilities: { network: [], filesystem: [] }, limits: { timeoutMs: 5000, memoryMb: 64, outputBytes: 65536 } } as unknown as RegisteredTool;
    const { host, egress } = createToolHost(tool, new AbortController().signal, {}, []);
    records = egress;
    proxy.bind("127.0.0.1", { callId: "c1", tool: "net_tool", grants, onEgress: (r) => host.recordEgress(r) });
  };

  /** A plain-HTTP request through the proxy (absolute URI); resolves [status, body] or the socket error code. */
  const viaProxy = (url: string): Promise<[number, string] | string> =>
    new Promise((resolve) => {
      const req = request({ host: "127.0.0.1", port: proxyPort, path: url, headers: { host: new URL(url).host } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c));
        res.on("end", () => resolve([res.statusCode!, body]));
      });
      req.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.end();
    });

  /** CONNECT host:port; resolves the proxy's status line. */
  const connectVia = (authority: string): Promise<string> =>
    new Promise((resolve) => {
      const socket = connect(proxyPort, "127.0.0.1", () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
      socket.once("data", (d: Buffer) => {
        resolve(d.toString("latin1").split("\r\n")[0]!);
        socket.destroy();
      });
      socket.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      socket.on("close", () => resolve("closed"));
    });

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.host}`);
      let body = 0;
      req.on("data", (c: Buffer) => (body += c.length));
      req.on("end", () => res.end(req.method === "GET" ? `upstream saw ${req.url}` : `upstream got ${body} bytes`));
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    upstreamPort = (upstream.address() as { port: number }).port;
    proxy = new EgressProxy({ authorize: authorizeEgress });
    proxyPort = await proxy.listen("127.0.0.1");
  });
  after(async () => {
    await proxy.close();
    upstream.close();
  });

  test("an allowed http target is forwarded to the checked address and recorded", async () => {
    bindWith([{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }]);
    assert.deepEqual(await viaProxy(`http://127.0.0.1:${upstreamPort}/ok?q=1`), [200, "upstream saw /ok?q=1"]);
    assert.deepEqual(records, [{ host: "127.0.0.1", port: upstreamPort, method: "GET", status: 200, bytes: Buffer.byteLength("upstream saw /ok?q=1"), bytesSent: 0, address: "127.0.0.1" }]);
  });

  test("a loopback target without allowPrivate is refused with 403 and recorded as denied", async () => {
    bindWith([{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: false }]);
    const result = await viaProxy(`http://127.0.0.1:${upstreamPort}/`);
    assert.equal((result as [number, string])[0], 403);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.status, null);
    assert.ok(records[0]!.denied);
  });

  test("CONNECT is checked as https: a host outside the allowlist gets 403", async () => {
    bindWith([{ pattern: "api.example.com", allowPrivate: false }]);
    assert.match(await connectVia("evil.example:443"), /^HTTP\/1\.1 403/);
    assert.equal(records[0]!.method, "CONNECT");
    assert.ok(records[0]!.denied);
  });

  test("a plain http grant does not allow a CONNECT tunnel to the same host and port", async () => {
    bindWith([{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }]);
    assert.match(await connectVia(`127.0.0.1:${upstreamPort}`), /^HTTP\/1\.1 403/);
  });

  test("an open tunnel is reported when the call ends, and a client with no call in flight gets nothing", async () => {
    bindWith([{ pattern: `127.0.0.1:${upstreamPort}`, allowPrivate: true }]);
    const socket = connect(proxyPort, "127.0.0.1", () => socket.write(`CONNECT 127.0.0.1:${upstreamPort} HTTP/1.1\r\n\r\n`));
    socket.on("error", () => {});
    const status = await new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString("latin1").split("\r\n")[0]!)));
    assert.match(status, /^HTTP\/1\.1 200/);
    proxy.unbind("127.0.0.1");
    assert.deepEqual(records, [{ host: "127.0.0.1", port: upstreamPort, method: "CONNECT", status: 200, bytes: 0, bytesSent: 0, address: "127.0.0.1" }]);
    assert.notDeepEqual(await viaProxy(`http://127.0.0.1:${upstreamPort}/`), [200, `upstream saw /`]);
  });

  /** Writes raw bytes to the proxy and resolves everything it answers until it closes. */
  const rawExchange = (bytes: string | Buffer, port = proxyPort): Promise<string> =>
    new Promise((resolve) => {
      let answer = "";
      // Not end(): a half-closed client makes the server drop the response it is still preparing.
      const socket = connect(port, "127.0.0.1", () => socket.write(bytes));
      socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
      socket.on("error", () => {});
      socket.on("close", () => resolve(answer));
    });

  test("a call looping refused CONNECTs with huge hosts gets a bounded list of records and one summary", async () => {
    bindWith([{ pattern: "api.example.com", allowPrivate: false }]);
    const total = EGRESS_RECORDS_MAX + 150;
    const long = "a".repeat(8000);
    for (let i = 0; i < total; i += 25)
      await Promise.all(Array.from({ length: Math.min(25, total - i) }, (_, j) => connectVia(`${long}-${i + j}.evil.test:443`)));
    assert.equal(records.length, EGRESS_RECORDS_MAX + 1, "the bound, plus one summary record");
    for (const r of records) assert.ok(r.host.length <= EGRESS_HOST_MAX + 1, `host cut to ${EGRESS_HOST_MAX}: ${r.host.length}`);
    for (const r of records) assert.ok((r.denied ?? "").length <= 301);
    const summary = records.at(-1)!;
    assert.match(summary.host, /^\(150 more egress attempts not recorded/);
    assert.equal(summary.denied, "150 more refused");
    assert.ok(JSON.stringify(records).length < 200_000, "the call's egress stays small");
  });

  test("a GET with a chunked body is refused: its chunk never reaches the upstream as a second request", async () => {
    bindWith([{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }]);
    seen.length = 0;
    const smuggled = "GET /SMUGGLED HTTP/1.1\r\nHost: internal.admin\r\n\r\n";
    const answer = await rawExchange(
      `GET http://127.0.0.1:${upstreamPort}/first HTTP/1.1\r\nHost: 127.0.0.1:${upstreamPort}\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 400/);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seen, [], "the upstream saw no request at all");
    assert.equal(records.length, 1);
    assert.match(records[0]!.denied ?? "", /with a body/);
  });

  test("a chunked POST is re-framed: the upstream sees one request with the whole body", async () => {
    bindWith([{ pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }]);
    seen.length = 0;
    const smuggled = "GET /SMUGGLED HTTP/1.1\r\nHost: internal.admin\r\n\r\n";
    const answer = await rawExchange(
      `POST http://127.0.0.1:${upstreamPort}/up HTTP/1.1\r\nHost: 127.0.0.1:${upstreamPort}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 200/);
    assert.match(answer, new RegExp(`upstream got ${smuggled.length} bytes`));
    assert.deepEqual(seen, [`POST /up 127.0.0.1:${upstreamPort}`]);
    assert.equal(records[0]!.bytesSent, smuggled.length, "the upload is counted");
  });

  test("uploads through a tunnel and a forward are counted, recorded and capped", async () => {
    let received = 0;
    const sink: TcpServer = createTcpServer((s) => {
      s.on("data", (c: Buffer) => (received += c.length));
      s.on("error", () => {});
    });
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
    const sinkPort = (sink.address() as { port: number }).port;
    const capped = new EgressProxy({ authorize: authorizeEgress, maxRequestBytes: 64 * 1024 });
    const cappedPort = await capped.listen("127.0.0.1");
    const got: EgressRecord[] = [];
    capped.bind("127.0.0.1", { callId: "c2", tool: "net_tool", grants: [{ pattern: `127.0.0.1:${sinkPort}`, allowPrivate: true }, { pattern: `http://127.0.0.1:${upstreamPort}`, allowPrivate: true }], onEgress: (r) => void got.push(r) });
    try {
      const socket = connect(cappedPort, "127.0.0.1", () => socket.write(`CONNECT 127.0.0.1:${sinkPort} HTTP/1.1\r\n\r\n`));
      socket.on("error", () => {});
      await new Promise<void>((resolve) => socket.once("data", () => resolve()));
      socket.write(Buffer.alloc(10_000, 1));
      for (let i = 0; i < 50 && received < 10_000; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(received, 10_000);
      // 100 MiB once went out of a tunnel recorded as "bytes: 24": past the cap the tunnel is cut.
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      for (let i = 0; i < 32 && !socket.destroyed; i++) socket.write(Buffer.alloc(64 * 1024, 2));
      await closed;
      assert.ok(received <= 64 * 1024, `at most the cap went out: ${received}`);
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(got[0]!.method, "CONNECT");
      assert.ok(got[0]!.bytesSent! >= 10_000 && got[0]!.bytesSent! <= 64 * 1024, `recorded: ${got[0]!.bytesSent}`);
      const big = await rawExchange(
        `POST http://127.0.0.1:${upstreamPort}/up HTTP/1.1\r\nHost: 127.0.0.1:${upstreamPort}\r\nContent-Length: ${200 * 1024}\r\n\r\n` + "x".repeat(200 * 1024),
        cappedPort,
      );
      assert.match(big, /^HTTP\/1\.1 413/);
      // A chunked upload has no length to refuse up front: it is cut once past the cap.
      seen.length = 0;
      const chunk = "y".repeat(16 * 1024);
      const chunked = await rawExchange(
        `POST http://127.0.0.1:${upstreamPort}/up HTTP/1.1\r\nHost: 127.0.0.1:${upstreamPort}\r\nTransfer-Encoding: chunked\r\n\r\n` +
          `${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(12) + "0\r\n\r\n",
        cappedPort,
      );
      assert.doesNotMatch(chunked, /upstream got/, "the upstream never got the whole oversized body");
      const last = got.at(-1)!;
      assert.equal(last.method, "POST");
      assert.ok(last.bytesSent! <= 64 * 1024, `recorded at most the cap: ${last.bytesSent}`);
    } finally {
      await capped.close();
      sink.close();
    }
  });

  test("the record names the canonical host and the address actually connected, whatever the spelling", async () => {
    bindWith([{ pattern: `127.0.0.1:${upstreamPort}`, allowPrivate: true }]);
    for (const spelling of ["2130706433", "%31%32%37.0.0.1", "127.0.0.1.", "0x7f.1"]) {
      const socket = connect(proxyPort, "127.0.0.1", () => socket.write(`CONNECT ${spelling}:${upstreamPort} HTTP/1.1\r\n\r\n`));
      socket.on("error", () => {});
      const status = await new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString("latin1").split("\r\n")[0]!)));
      assert.match(status, /^HTTP\/1\.1 200/, spelling);
      socket.destroy();
    }
    for (let i = 0; i < 50 && records.length < 4; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(records.map((r) => [r.host, r.address]), Array(4).fill(["127.0.0.1", "127.0.0.1"]));
  });
});
