import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { after, before, describe, test } from "node:test";
import { egress, grant, okValue, refusal, text } from "./fetch-harness.js";
import { startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

let front: LoopbackServer; // redirects according to the path
let back: LoopbackServer; // answers with what it saw
let forbidden: LoopbackServer; // never granted

const redirect = (res: ServerResponse, status: number, location: string) => {
  res.statusCode = status;
  res.setHeader("location", location);
  res.end("moved");
};

before(async () => {
  back = await startLoopbackServer((_req, res, seen) => res.end(JSON.stringify({ method: seen.method, body: seen.body, authorization: seen.headers.authorization ?? null })));
  forbidden = await startLoopbackServer((_req, res) => res.end("secret internal page"));
  front = await startLoopbackServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const to = url.searchParams.get("to");
    if (url.pathname === "/loop") return redirect(res, 302, "/loop");
    if (url.pathname === "/same") return res.end(JSON.stringify({ authorization: req.headers.authorization ?? null }));
    if (to) return redirect(res, Number(url.searchParams.get("status") ?? 302), to);
    res.end("front");
  });
});
after(async () => {
  await Promise.all([front.close(), back.close(), forbidden.close()]);
});

const both = () => [grant(`http://127.0.0.1:${front.port}`, true), grant(`http://127.0.0.1:${back.port}`, true)];
const via = (to: string, status = 302) => `${front.origin}/r?status=${status}&to=${encodeURIComponent(to)}`;

describe("redirects are followed by hand, each hop checked completely", () => {
  test("a redirect within allowed hosts is followed and both hops are recorded", async () => {
    const { fetch, records } = egress(both());
    const res = okValue(await fetch({ url: via(`${back.origin}/final`) }));
    assert.equal(res.status, 200);
    assert.equal(res.url, `${back.origin}/final`);
    assert.deepEqual(
      records.map((r) => [r.port, r.status, r.denied]),
      [[front.port, 302, undefined], [back.port, 200, undefined]],
    );
  });

  test("a redirect from an allowed host to a host not in the allowlist is refused before connecting", async () => {
    const before = forbidden.connections;
    const { fetch, records } = egress(both());
    refusal(await fetch({ url: via(`${forbidden.origin}/`) }), "E_CAPABILITY_DENIED", new RegExp(`port ${forbidden.port} is not granted`));
    assert.equal(forbidden.connections, before, "the forbidden server was never contacted");
    assert.equal(records.length, 2);
    assert.equal(records[1]?.status, null);
    assert.match(records[1]?.denied ?? "", /not granted/);
  });

  test("a redirect to the metadata address is refused", async () => {
    const { fetch, records } = egress([...both(), grant("http://169.254.169.254")]);
    refusal(await fetch({ url: via("http://169.254.169.254/latest/meta-data/iam/") }), "E_CAPABILITY_DENIED", /cloud metadata/);
    assert.match(records[1]?.denied ?? "", /cloud metadata/);
  });

  test("a redirect to an allowed name that resolves to loopback is refused without allowPrivate", async () => {
    const before = back.connections;
    const { fetch } = egress([grant(`http://127.0.0.1:${front.port}`, true), grant(`http://localhost:${back.port}`)]);
    refusal(await fetch({ url: via(`http://localhost:${back.port}/`) }), "E_CAPABILITY_DENIED", /localhost resolved to 127\.0\.0\.1 \(loopback\)/);
    assert.equal(back.connections, before);
  });

  test("only http(s) Location URLs are followed", async () => {
    const { fetch } = egress(both());
    refusal(await fetch({ url: via("file:///etc/passwd") }), "E_CAPABILITY_DENIED", /only http and https.*redirect from 127\.0\.0\.1/);
    const { fetch: other, records } = egress(both());
    refusal(await other({ url: via("gopher://127.0.0.1:70/") }), "E_CAPABILITY_DENIED", /only http and https/);
    assert.equal(records.length, 2, "the refused hop is recorded too");
    assert.match(records[1]?.denied ?? "", /only http and https/);
  });

  test("more than maxRedirects hops stop with an error", async () => {
    const { fetch, records } = egress(both(), { maxRedirects: 3 });
    refusal(await fetch({ url: `${front.origin}/loop` }), "E_TOOL_FAILED", /more than 3 redirects/);
    assert.equal(records.length, 4);
  });

  test("303 turns a POST into a GET without body; 307 keeps method and body", async () => {
    const { fetch } = egress(both());
    const after303 = JSON.parse(text(okValue(await fetch({ url: via(`${back.origin}/`, 303), method: "POST", body: "payload" }))));
    assert.deepEqual([after303.method, after303.body], ["GET", ""]);
    const after307 = JSON.parse(text(okValue(await fetch({ url: via(`${back.origin}/`, 307), method: "POST", body: "payload" }))));
    assert.deepEqual([after307.method, after307.body], ["POST", "payload"]);
  });

  test("Authorization is dropped when a redirect changes origin, kept when it does not", async () => {
    const { fetch } = egress(both());
    const crossed = JSON.parse(text(okValue(await fetch({ url: via(`${back.origin}/`), headers: { authorization: "Bearer t" } }))));
    assert.equal(crossed.authorization, null);
    const same = JSON.parse(text(okValue(await fetch({ url: via("/same"), headers: { authorization: "Bearer t" } }))));
    assert.equal(same.authorization, "Bearer t");
  });

  test("a 3xx without Location is returned as it is", async () => {
    const lonely = await startLoopbackServer((_req, res) => {
      res.statusCode = 304;
      res.end();
    });
    try {
      const { fetch: f } = egress([grant(`http://127.0.0.1:${lonely.port}`, true)]);
      assert.equal(okValue(await f({ url: `${lonely.origin}/` })).status, 304);
    } finally {
      await lonely.close();
    }
  });
});
