/**
 * Drives one call on a started sandbox: writes the input line, enforces the
 * deadline, output budget and cancellation, and turns the container's end
 * into an outcome. OOM is read from `State.OOMKilled` before the container is
 * removed (which is why containers are never AutoRemove).
 */
import { abortPayload, type ErrorPayload } from "../../src/errors.js";
import { LIMIT_DEFAULTS } from "../../src/manifest/schema.js";
import type { ExecuteOutcome, ExecuteRequest } from "../executor.js";
import { boundedOutput } from "../outcome/index.js";
import { finalState } from "../docker/exit-state.js";
import { engineCall } from "../docker/engine.js";
import type { ToolResult } from "./tool-result.js";
import { GATE_RELEASE } from "./gate.js";
import { killContainer } from "../docker/sandbox.js";
import type { StartedSandbox } from "./started-sandbox.js";

type Stop = { code: ErrorPayload["code"]; message: string };

/** Slack over `outputBytes` while streaming: the envelope and the tool's JSON spacing are not output. */
export function streamingOutputCap(outputBytes: number): number {
  return outputBytes * 2 + 4096;
}

/**
 * After the result, how long we keep reading stderr for the tool to exit: stdout and stderr are two pipes
 * with no order between them, so log lines written BEFORE the result may arrive after it. The gate's
 * exited line (gate.ts) follows all of them on stderr, so waiting for it loses none.
 */
export const STDERR_GRACE_MS = 500;

export async function runCall(sandbox: StartedSandbox, request: ExecuteRequest, deadlineAt: number): Promise<ExecuteOutcome> {
  const { tool, signal } = request;
  const limits = { ...LIMIT_DEFAULTS, ...tool.limits };
  let stop: Stop | undefined;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const halt = (s: Stop): void => {
    if (stop) return;
    stop = s;
    wake();
  };

  sandbox.collector.setLineSink((line) => request.host.log("info", line));
  sandbox.collector.stdoutLimit = streamingOutputCap(limits.outputBytes);
  sandbox.collector.onOverflow = () =>
    halt({ code: "E_OUTPUT_TOO_LARGE", message: `tool ${tool.name} wrote more than its output limit (${limits.outputBytes} bytes)` });
  const timer = setTimeout(
    () => halt({ code: "E_TIMEOUT", message: `tool ${tool.name} exceeded its ${limits.timeoutMs} ms time limit` }),
    Math.max(0, deadlineAt - Date.now()),
  );
  // The result is complete as soon as stdout parses as one result object: answering then, instead of after
  // the engine has processed the exit (hundreds of ms on a busy host), is most of the warm pool's speed.
  let early: (ToolResult & { kind: "output" | "error" }) | undefined;
  let wakeEarly: () => void = () => {};
  const resultSeen = new Promise<void>((resolve) => (wakeEarly = resolve));
  sandbox.collector.onResult = (parsed) => {
    if (early || stop) return;
    if (parsed.kind === "output" || parsed.kind === "error") {
      early = parsed;
      wakeEarly();
    }
  };
  // The documented progress channel: {"progress": n, "total": m} objects on stdout before the result.
  sandbox.collector.onProgress = (done, total) => {
    if (!early && !stop) request.host.progress(done, total);
  };
  const onAbort = (): void => halt(abortPayload(signal.reason));
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });

  try {
    if (!stop) writeInput(sandbox, request);
    await Promise.race([sandbox.ended, stopped, resultSeen]);
    if (stop) {
      await killContainer(sandbox.container);
      return { ok: false, error: stop };
    }
    if (early && !sandbox.isEnded()) {
      const exited = new Promise<void>((resolve) => {
        sandbox.collector.onToolExited = resolve;
        if (sandbox.collector.toolExited) resolve();
      });
      await Promise.race([exited, sandbox.ended, stopped, delay(STDERR_GRACE_MS)]);
      // A deadline, flood or cancel after the result changes nothing about the result: stop the container.
      if (stop && !sandbox.isEnded()) await killContainer(sandbox.container);
    }
    if (early && !sandbox.isEnded()) {
      // Nothing the tool does after its result may count. Its only channels out are the egress proxy
      // (unbound by the caller as soon as we return) and a read-write volume: only then do we wait for
      // the kill (~0.3 s: dockerd returns once the container stopped). Otherwise the removal that follows
      // every call kills it in the background.
      if (tool.volumes.some((v) => v.access === "read-write")) await killContainer(sandbox.container);
      return resultOutcome(early, tool.name, limits.outputBytes);
    }
    return await settle(sandbox, request, limits.outputBytes, stopped, () => stop);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    // Lines the container writes after the outcome (it may live a few hundred ms more) reach nobody.
    sandbox.collector.setLineSink(() => {});
    sandbox.collector.onResult = undefined;
    sandbox.collector.onProgress = undefined;
    sandbox.collector.onToolExited = undefined;
  }
}

function writeInput(sandbox: StartedSandbox, request: ExecuteRequest): void {
  const line = JSON.stringify({ tool: request.tool.name, callId: request.callId, input: request.input ?? null }) + "\n";
  // end() closes the container's stdin (StdinOnce): a tool reading to EOF gets exactly one line.
  sandbox.stdio.on("error", () => {});
  // The empty line releases the gate (gate.ts): only now does the tool's command start.
  sandbox.stdio.end(GATE_RELEASE + line);
}

/** The container ended on its own: exit status, OOM flag, then the result it wrote. */
async function settle(
  sandbox: StartedSandbox,
  request: ExecuteRequest,
  outputBytes: number,
  stopped: Promise<void>,
  currentStop: () => Stop | undefined,
): Promise<ExecuteOutcome> {
  const name = request.tool.name;
  const exit = await Promise.race([
    engineCall("wait", sandbox.container.wait() as Promise<{ StatusCode: number }>).then((r) => r.StatusCode),
    stopped.then(() => null),
  ]);
  const late = currentStop();
  if (exit === null && late) {
    await killContainer(sandbox.container);
    return { ok: false, error: late };
  }
  const result = sandbox.collector.result();
  if (exit === 0 && result.kind === "output") return resultOutcome(result, name, outputBytes);
  const state = await finalState(sandbox.container, exit);
  if (state.OOMKilled)
    return { ok: false, error: { code: "E_MEMORY", message: `tool ${name} exceeded its ${request.tool.limits.memoryMb} MB memory limit` } };
  if (result.kind === "error") return resultOutcome(result, name, outputBytes);
  const code = exit ?? state.ExitCode;
  if (code >= 128)
    return { ok: false, error: { code: "E_SANDBOX_CRASHED", message: `container of ${name} was killed by signal ${code - 128}` } };
  if (code !== 0) {
    // A script that dies on an exception prints it last on stderr: the most useful message for its author.
    const last = sandbox.collector.lastStderrLine;
    return { ok: false, error: { code: "E_TOOL_FAILED", message: last ? `tool ${name} failed: ${last}` : `tool ${name} exited with status ${code} without a result` } };
  }
  return { ok: false, error: { code: "E_TOOL_FAILED", message: `tool ${name} ${result.kind === "invalid" ? result.reason : "exited without a result"}` } };
}

function resultOutcome(result: ToolResult & { kind: "output" | "error" }, name: string, outputBytes: number): ExecuteOutcome {
  if (result.kind === "error") return { ok: false, error: { code: "E_TOOL_FAILED", message: result.message } };
  return boundedOutput(`tool ${name}`, result.output, outputBytes);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
