/**
 * The egress proxy on loopback, without Docker: attribution by source
 * address, the shared authorizeEgress rule for CONNECT (https) and
 * absolute-URI (http) requests, and audit records for every attempt.
 */
import assert from "node:assert/strict";
import { createServer, request, type Server } from "node:http";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { EgressProxy } from "../../../sandboxes/container/egress-proxy.js";
import { authorizeEgress } from "../../../src/capabilities/network/index.js";
import type { EgressRecord, NetworkGrant } from "../../../src/capabilities/types.js";

describe("egress proxy", () => {
  let proxy: EgressProxy;
  let proxyPort = 0;
  let upstream: Server;
  let upstreamPort = 0;
  let records: EgressRecord[] = [];

  const bindWith = (grants: NetworkGrant[]): void => {
    records = [];
    proxy.bind("127.0.0.1", { callId: "c1", tool: "net_tool", grants, onEgress: (r) => void records.push(r) });
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
    upstream = createServer((req, res) => res.end(`upstream saw ${req.url}`));
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
    assert.deepEqual(records, [{ host: "127.0.0.1", port: upstreamPort, method: "GET", status: 200, bytes: Buffer.byteLength("upstream saw /ok?q=1") }]);
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
    assert.deepEqual(records, [{ host: "127.0.0.1", port: upstreamPort, method: "CONNECT", status: 200, bytes: 0 }]);
    assert.notDeepEqual(await viaProxy(`http://127.0.0.1:${upstreamPort}/`), [200, `upstream saw /`]);
  });
});
