import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { egress, grant, okValue, refusal } from "./fetch-harness.js";
import { startLoopbackServer, testCa, type LoopbackServer } from "./loopback-server.js";

let server: LoopbackServer; // certificate for DNS:localhost only, signed by the test CA

before(async () => {
  server = await startLoopbackServer((_req, res) => res.end("secure"), { tls: true });
});
after(async () => {
  await server.close();
});

describe("TLS uses the original host name", () => {
  test("https to a granted name: SNI and certificate check use that name", async () => {
    const { fetch, records } = egress([grant(`localhost:${server.port}`, true)], { extraCa: [testCa()] });
    const res = okValue(await fetch({ url: `https://localhost:${server.port}/` }));
    assert.equal(Buffer.from(res.body).toString(), "secure");
    assert.equal(server.servernames.at(-1), "localhost");
    assert.equal(records[0]?.status, 200);
  });

  test("an untrusted certificate is refused (verification is on)", async () => {
    const { fetch } = egress([grant(`localhost:${server.port}`, true)]);
    refusal(await fetch({ url: `https://localhost:${server.port}/` }), "E_TOOL_FAILED", /TLS with localhost:\d+ failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
  });

  test("the same server reached by IP literal fails the host name check (the cert names localhost)", async () => {
    const { fetch } = egress([grant(`127.0.0.1:${server.port}`, true)], { extraCa: [testCa()] });
    refusal(await fetch({ url: `https://127.0.0.1:${server.port}/` }), "E_TOOL_FAILED", /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.equal(server.requests.filter((r) => r.headers.host?.startsWith("127.0.0.1")).length, 0, "no request was sent");
  });
});
