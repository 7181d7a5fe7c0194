/**
 * The executor contract (sandboxes/executor.ts), written once and run against
 * every sandbox backend: each backend's spec file injects its own tools and its
 * own way to crash a sandbox. A backend passes only if a user of the broker
 * cannot tell from the outcomes which backend ran the tool.
 */
import { after, before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { ExecuteOutcome, ExecuteRequest, Executor, RemoteTool, SandboxTool, ToolHost } from "../../sandboxes/executor.js";
import { WardenError, type ErrorCode } from "../../src/errors.js";

export type ContractToolKind =
  | "echo"
  | "busy-loop"
  | "host-wait"
  | "memory-bomb"
  | "output-flood"
  | "throws"
  | "state-write-read"
  | "slow"
  /** Input `{ lines: n }`: writes the log lines "line 0" … "line n-1" (ctx.log, stderr, notifications/message), then returns `{ ok: true }`. */
  | "logs";

export interface ContractBackend {
  name: string;
  /** true, or the reason the backend cannot run here (the suite then skips loudly, but FAILS when process.env.CI === "true"). */
  available(): Promise<true | string>;
  createExecutor(): Promise<Executor>;
  /** A tool of this kind for this backend (limits small, e.g. timeoutMs 1000-2000, memoryMb 32-64, outputBytes 4096). */
  toolFor(kind: ContractToolKind): SandboxTool;
  /** Backends whose unit exposes several tools (mcp-server): which one a call of this kind is for. */
  remoteFor?(kind: ContractToolKind): RemoteTool;
  /**
   * The exact success outcome this backend gives for `output` (default `{ok, output, outputBytes}` with the
   * output's UTF-8 JSON size). A hosted server's result also carries its content blocks, counted in outputBytes.
   */
  expectOk?(output: unknown): ExecuteOutcome;
  /** Kill the sandbox(es) running right now, as a crash would. */
  crashSandbox(executor: Executor): Promise<void>;
  /**
   * Documented differences (like Hono's `runTest({ skip })`): exact contract test name → why this backend
   * differs there by design. Each one is skipped and printed loudly; a name that is no contract test fails.
   */
  differences?: Record<string, string>;
}

/** Slack on top of a tool's own timeout: sandbox start-up on a loaded 2-core CI box, not a speed claim. */
const DEADLINE_SLACK_MS = 5_000;
/** How long a slow call is left running before it is crashed or cancelled. */
const LET_IT_START_MS = 300;

/** A broker stand-in: records log/progress, denies fs, and never answers fetch (so "awaiting the host" lasts forever). */
export function createFakeHost(): ToolHost & { logs: Array<[string, string]> } {
  const logs: Array<[string, string]> = [];
  return {
    logs,
    log: (level, message) => void logs.push([level, message]),
    progress: () => undefined,
    fetch: () => new Promise(() => undefined),
    fs: async () => ({ ok: false, error: { code: "E_CAPABILITY_DENIED", message: "filesystem: no volume granted" } }),
    recordEgress: () => {},
  };
}

let callSeq = 0;

function requestFor(tool: SandboxTool, input: unknown, signal = new AbortController().signal, host: ToolHost = createFakeHost(), remote?: RemoteTool): ExecuteRequest {
  return { callId: `contract-${++callSeq}`, tool, input, env: {}, host, signal, ...(remote ? { remote } : {}) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function assertFailure(outcome: ExecuteOutcome, code: ErrorCode): string {
  assert.equal(outcome.ok, false, `expected ${code}, got success: ${JSON.stringify(outcome)}`);
  if (outcome.ok) throw new Error("unreachable");
  assert.equal(outcome.error.code, code, `expected ${code}, got ${outcome.error.code}: ${outcome.error.message}`);
  assert.equal(typeof outcome.error.message, "string");
  assert.ok(outcome.error.message.length > 0, "a failure carries a message for a person");
  return outcome.error.message;
}

export function runExecutorContract(backend: ContractBackend): void {
  describe(`executor contract: ${backend.name}`, () => {
    let executor: Executor | undefined;
    const ok = (output: unknown): ExecuteOutcome => backend.expectOk?.(output) ?? { ok: true, output, outputBytes: Buffer.byteLength(JSON.stringify(output), "utf8") };
    const noState = ok({ previous: null });
    /** A request for a tool of `kind` (or `tool`, a variant of it), with the remote name where the backend needs one. */
    const requestOf = (kind: ContractToolKind, input: unknown, extra: { tool?: SandboxTool; signal?: AbortSignal; host?: ToolHost } = {}) =>
      requestFor(extra.tool ?? backend.toolFor(kind), input, extra.signal, extra.host, backend.remoteFor?.(kind));
    let skipReason = "backend not initialised";

    before(async () => {
      const availability = await backend.available();
      if (availability !== true) {
        if (process.env.CI === "true") throw new Error(`${backend.name} backend unavailable in CI: ${availability}`);
        skipReason = `${backend.name} backend unavailable here: ${availability}`;
        console.error(`\n*** SKIPPING executor contract for ${backend.name}: ${availability} ***\n`);
        return;
      }
      executor = await backend.createExecutor();
    });

    after(async () => {
      await executor?.close();
    });

    const differences = backend.differences ?? {};
    const names = new Set<string>();
    /** Runs `body` with the executor, or skips loudly when the backend is unavailable or documents a difference. */
    const contractTest = (name: string, body: (executor: Executor) => Promise<void>) => {
      names.add(name);
      return test(name, async (t: TestContext) => {
        if (Object.hasOwn(differences, name)) {
          const why = `documented difference of ${backend.name}: ${differences[name]}`;
          console.error(`\n*** NOT RUN for ${backend.name}: "${name}" — ${differences[name]} ***\n`);
          return t.skip(why);
        }
        if (!executor) return t.skip(skipReason);
        await body(executor);
      });
    };

    const run = (ex: Executor, kind: ContractToolKind, input: unknown, signal?: AbortSignal) => ex.execute(requestOf(kind, input, signal ? { signal } : {}));

    async function assertStillServesEcho(ex: Executor): Promise<void> {
      const outcome = await run(ex, "echo", { after: "failure" });
      assert.deepEqual(outcome, ok({ echo: { after: "failure" } }));
    }

    /** Crashes the sandbox until the slow call ends (a backend may still be starting it when the first crash lands). */
    async function crashUntilSettled(ex: Executor, pending: Promise<ExecuteOutcome>): Promise<ExecuteOutcome> {
      let settled = false;
      const outcome = pending.finally(() => (settled = true));
      await sleep(LET_IT_START_MS);
      for (let i = 0; i < 50 && !settled; i++) {
        await backend.crashSandbox(ex);
        await Promise.race([outcome, sleep(200)]);
      }
      return outcome;
    }

    contractTest("echo returns the tool's JSON output and its UTF-8 size", async (ex) => {
      const input = { text: "grüße", n: 3, list: [true, null] };
      const outcome = await run(ex, "echo", input);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      if (!outcome.ok) return;
      assert.deepEqual(outcome.output, { echo: input });
      assert.deepEqual(outcome, ok({ echo: input }), "the size is the UTF-8 size of what the client receives");
    });

    contractTest("a busy loop ends with E_TIMEOUT after the tool's timeout", async (ex) => {
      const tool = backend.toolFor("busy-loop");
      const started = Date.now();
      const outcome = await ex.execute(requestOf("busy-loop", {}, { tool }));
      assertFailure(outcome, "E_TIMEOUT");
      assert.ok(Date.now() - started < tool.limits.timeoutMs + DEADLINE_SLACK_MS, "the deadline was enforced");
      await assertStillServesEcho(ex);
    });

    contractTest("time spent awaiting the host counts against the timeout (E_TIMEOUT)", async (ex) => {
      const tool = backend.toolFor("host-wait");
      const started = Date.now();
      const outcome = await ex.execute(requestOf("host-wait", {}, { tool }));
      assertFailure(outcome, "E_TIMEOUT");
      assert.ok(Date.now() - started < tool.limits.timeoutMs + DEADLINE_SLACK_MS, "the deadline was enforced");
      await assertStillServesEcho(ex);
    });

    contractTest("allocating without bound ends with E_MEMORY", async (ex) => {
      assertFailure(await run(ex, "memory-bomb", {}), "E_MEMORY");
      await assertStillServesEcho(ex);
    });

    contractTest("output larger than outputBytes ends with E_OUTPUT_TOO_LARGE", async (ex) => {
      assertFailure(await run(ex, "output-flood", {}), "E_OUTPUT_TOO_LARGE");
      await assertStillServesEcho(ex);
    });

    contractTest("a tool that throws ends with E_TOOL_FAILED carrying its message", async (ex) => {
      const message = assertFailure(await run(ex, "throws", { msg: "disk on fire" }), "E_TOOL_FAILED");
      assert.match(message, /boom: disk on fire/);
      await assertStillServesEcho(ex);
    });

    contractTest("a sandbox killed during a call ends it with E_SANDBOX_CRASHED, and the next call works", async (ex) => {
      const outcome = await crashUntilSettled(ex, run(ex, "slow", {}));
      assertFailure(outcome, "E_SANDBOX_CRASHED");
      await assertStillServesEcho(ex);
    });

    contractTest("aborting the signal during a call ends it with E_CANCELLED within 2 s", async (ex) => {
      const controller = new AbortController();
      const pending = run(ex, "slow", {}, controller.signal);
      await sleep(LET_IT_START_MS);
      const abortedAt = Date.now();
      controller.abort();
      assertFailure(await pending, "E_CANCELLED");
      assert.ok(Date.now() - abortedAt < 2_000, "cancellation took effect at once");
      await assertStillServesEcho(ex);
    });

    contractTest("a signal aborted with a WardenError ends the call with that error's code", async (ex) => {
      const controller = new AbortController();
      const pending = run(ex, "slow", {}, controller.signal);
      await sleep(LET_IT_START_MS);
      controller.abort(new WardenError("E_DISABLED", "kill switch: tool disabled by the operator"));
      assertFailure(await pending, "E_DISABLED");
      await assertStillServesEcho(ex);
    });

    contractTest("a signal already aborted before the call runs nothing and ends with E_CANCELLED", async (ex) => {
      const controller = new AbortController();
      controller.abort();
      assertFailure(await run(ex, "echo", { x: 1 }, controller.signal), "E_CANCELLED");
    });

    contractTest("a second call of the same tool sees no state from the first", async (ex) => {
      const first = await run(ex, "state-write-read", { value: "first" });
      const second = await run(ex, "state-write-read", { value: "second" });
      assert.deepEqual(first, noState);
      assert.deepEqual(second, noState);
    });

    contractTest("two different tools share no state", async (ex) => {
      const toolA = backend.toolFor("state-write-read");
      const toolB: SandboxTool = { ...toolA, name: `${toolA.name}_twin`, digest: `${toolA.digest}-twin` };
      const fromA = await ex.execute(requestOf("state-write-read", { value: "from-a" }, { tool: toolA }));
      const fromB = await ex.execute(requestOf("state-write-read", { value: "from-b" }, { tool: toolB }));
      assert.deepEqual(fromA, noState);
      assert.deepEqual(fromB, noState);
    });

    contractTest("20 concurrent echo calls all succeed with their own output", async (ex) => {
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => run(ex, "echo", { i })));
      for (const [i, outcome] of outcomes.entries()) assert.deepEqual(outcome, ok({ echo: { i } }));
    });

    // Issue #16 item 4: one tool's failures (timeouts, memory, throws) never fail another tool's calls, and an
    // outcome that is not the call's own fault says so (collateral), so it is never counted against its tool.
    contractTest("a call's failure is never charged to another tool running at the same time", async (ex) => {
      const failing = Promise.all([run(ex, "busy-loop", {}), run(ex, "memory-bomb", {}), run(ex, "throws", { msg: "x" })]);
      const echoes = await Promise.all(Array.from({ length: 6 }, (_, i) => run(ex, "echo", { i })));
      for (const [i, outcome] of echoes.entries()) assert.deepEqual(outcome, ok({ echo: { i } }));
      const [timeout, memory, thrown] = await failing;
      for (const [outcome, code] of [[timeout, "E_TIMEOUT"], [memory, "E_MEMORY"], [thrown, "E_TOOL_FAILED"]] as const) {
        assertFailure(outcome, code);
        assert.equal(!outcome.ok && outcome.collateral, undefined, "a tool's own failure is charged to it");
      }
    });

    contractTest("log lines the tool writes before its result are all delivered, in order, before the outcome", async (ex) => {
      // Repeated: the loss this stops was intermittent (stderr frames still in flight when stdout ended).
      for (let round = 0; round < 5; round++) {
        const host = createFakeHost();
        const outcome = await ex.execute(requestOf("logs", { lines: 20 }, { host }));
        assert.deepEqual(outcome, ok({ ok: true }));
        assert.deepEqual(
          host.logs.map(([, message]) => message),
          Array.from({ length: 20 }, (_, i) => `line ${i}`),
          `round ${round}: every line written before the result arrived`,
        );
      }
    });

    contractTest("close() ends pending calls with E_CANCELLED", async () => {
      const own = await backend.createExecutor();
      const pending = run(own, "slow", {});
      await sleep(LET_IT_START_MS);
      await own.close();
      assertFailure(await pending, "E_CANCELLED");
    });

    test("every documented difference names a contract test", () => {
      const unknown = Object.keys(differences).filter((name) => !names.has(name));
      assert.deepEqual(unknown, [], "a difference must name a contract test exactly (a stale entry would hide nothing and say something false)");
      for (const [name, why] of Object.entries(differences)) assert.ok(why.trim().length > 0, `the difference "${name}" says why`);
    });
  });
}
