/** Bytes of host calls on the JSON IPC channel: decoded only where bytes may be. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { hostRequestFromWire, hostRequestToWire, hostResultFromWire, hostResultToWire } from "../../../sandboxes/isolate/wire-bytes.js";

test("fetch and writeFile bytes survive a JSON round trip as Uint8Array", () => {
  const fetch = { op: "fetch" as const, request: { url: "https://a.example/", body: new Uint8Array([0, 1, 255]) } };
  const back = hostRequestFromWire(JSON.parse(JSON.stringify(hostRequestToWire(fetch))));
  assert.deepEqual(back, fetch);
  const write = { op: "fs" as const, operation: { op: "writeFile" as const, path: "/mnt/v/x", data: new Uint8Array([7]) } };
  assert.deepEqual(hostRequestFromWire(JSON.parse(JSON.stringify(hostRequestToWire(write)))), write);
});

test("a { b64 } object in a field that never holds bytes stays an object", () => {
  const request = { op: "fetch" as const, request: { url: "https://a.example/", headers: { b64: "AAAA" } } };
  assert.deepEqual(hostRequestFromWire(JSON.parse(JSON.stringify(request))), request);
});

test("response bodies and readFile bytes come back as Uint8Array, text stays text", () => {
  const response = { ok: true as const, value: { status: 200, statusText: "OK", url: "u", headers: {}, body: Buffer.from("hé") } };
  const back = hostResultFromWire("fetch", JSON.parse(JSON.stringify(hostResultToWire("fetch", response)))) as { ok: true; value: { body: Uint8Array } };
  assert.deepEqual([...back.value.body], [...Buffer.from("hé")]);
  assert.deepEqual(hostResultFromWire("fs", JSON.parse(JSON.stringify(hostResultToWire("fs", { ok: true, value: "text" })))), { ok: true, value: "text" });
  const bytes = hostResultFromWire("fs", JSON.parse(JSON.stringify(hostResultToWire("fs", { ok: true, value: new Uint8Array([9]) }))));
  assert.deepEqual(bytes, { ok: true, value: new Uint8Array([9]) });
});
