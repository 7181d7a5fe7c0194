// The auth proxy in front of the conformance suite: it must add the token and otherwise be
// transparent — above all it must NOT touch Host/Origin, or dns-rebinding-protection would be
// testing the proxy instead of warden.
import assert from "node:assert/strict";
import { createServer, request } from "node:http";
import { after, before, test } from "node:test";
import { startAuthProxy } from "../lib/auth-proxy.mjs";

let upstream;
let upstreamPort;
let proxy;
const seen = [];
let streamClosedEarly;

before(async () => {
  upstream = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    if (req.url === "/sse") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: first\n\n"); // the second event only comes when the client asks for it
      streamClosedEarly = new Promise((resolve) => res.on("close", () => resolve(!res.writableFinished)));
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c)).on("end", () => res.writeHead(201, { "x-up": "yes" }).end(`echo:${body}`));
  });
  await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamPort = upstream.address().port;
  proxy = await startAuthProxy({ token: "sekret" });
  proxy.setTarget(upstreamPort);
});

after(async () => {
  await proxy.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

function send({ path = "/mcp", method = "POST", headers = {}, body = "" }) {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: proxy.port, path, method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (c) => (text += c)).on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("adds the bearer token, replacing one the client sent", async () => {
  seen.length = 0;
  await send({ headers: { authorization: "Bearer client-supplied" } });
  assert.equal(seen[0].headers.authorization, "Bearer sekret");
});

test("forwards Host and Origin unchanged (a rebinding Host reaches the server as sent)", async () => {
  seen.length = 0;
  await send({ headers: { host: "evil.example.com", origin: "http://evil.example.com" } });
  assert.equal(seen[0].headers.host, "evil.example.com");
  assert.equal(seen[0].headers.origin, "http://evil.example.com");
});

test("forwards method, path, body, status and response headers", async () => {
  seen.length = 0;
  const res = await send({ path: "/mcp?x=1", body: '{"a":1}', headers: { "content-type": "application/json", "mcp-session-id": "s1" } });
  assert.equal(seen[0].url, "/mcp?x=1");
  assert.equal(seen[0].headers["mcp-session-id"], "s1");
  assert.equal(res.status, 201);
  assert.equal(res.headers["x-up"], "yes");
  assert.equal(res.text, 'echo:{"a":1}');
});

test("streams SSE as it comes, and a client hang-up reaches the server as a disconnect", async () => {
  const first = await new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: proxy.port, path: "/sse", method: "GET" }, (res) => {
      res.setEncoding("utf8").once("data", (chunk) => {
        req.destroy(); // hang up mid-stream
        resolve(chunk);
      });
    });
    req.on("error", () => {});
    req.end();
    setTimeout(() => reject(new Error("first SSE event not delivered before the stream ended")), 5000).unref();
  });
  assert.equal(first, "data: first\n\n");
  assert.equal(await streamClosedEarly, true);
});

test("listens on 127.0.0.1 only", () => {
  assert.match(proxy.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
});
