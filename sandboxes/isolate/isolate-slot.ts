/**
 * One V8 isolate bound to one tool (memoryLimit is per isolate), running at
 * most one call at a time because a timeout or cancel disposes the whole
 * isolate. Every call gets a fresh context; the NEXT call's context (shim
 * installed, module compiled, instantiated and evaluated) is prepared ahead,
 * off the critical path, so a call costs one `apply` (~tens of µs) instead of
 * a fresh context (~0.7 ms).
 *
 * Every step that touches the isolate is asynchronous (isolated-vm runs it on
 * one of its own threads), never a *Sync call on the worker's main thread: the
 * main thread relays every other tool's host calls and answers, so tool code —
 * module top-level code included — must never run there (a `while (true) {}`
 * at module scope stalled every other call of the worker for 1 s per context).
 */
import ivm from "isolated-vm";
import { WardenError, type ErrorPayload } from "../../src/errors.js";
import { CTX_SHIM_SOURCE } from "./ctx-shim.js";
import { resolveToolImport } from "./module-resolver.js";
import type { FromWorker, WireTool } from "./protocol.js";
import { TIMINGS_ON } from "./timings.js";

/** Measured: a released context stays on the heap (~90-170 KB each) until its isolate is disposed. */
const RECYCLE_AFTER_CONTEXTS = 100;
/** Room for those leftover contexts, so a tool still gets its full memoryMb for its own data. */
const GARBAGE_HEADROOM_MB = 24;
const RECYCLE_HEAP_BYTES = 16 * 1024 * 1024;
/**
 * Top-level module code runs while preparing (on an isolated-vm thread). ivm's timeout is wall time, so on an
 * overloaded host a trivial module can overrun it: a context prepared ahead that timed out is prepared once more
 * for the call before the timeout is believed; then it is a verdict (see `verdict` below).
 */
export const TOP_LEVEL_BUDGET_MS = 1000;
const MB = 1024 * 1024;
/** Contexts kept prepared per isolate: idle time between bursts fills the buffer, so a burst starts warm. */
const READY_DEPTH = 2;
/** Tools whose V8 code cache this worker keeps (oldest dropped first). */
const CODE_CACHE_TOOLS = 64;

/**
 * V8 code cache per tool key (name, digest, limits) and module path, shared by every isolate of this worker:
 * a module is parsed once per digest, then each context's compile deserializes it (measured: a 200 KB module
 * compiles in ~0.22 ms instead of ~0.45 ms). It holds compiled CODE only: every context still gets a new
 * module instance, evaluated afresh, so no state of one call reaches the next. V8 checks the data against the
 * source and flags and rejects a mismatch (then it is dropped and produced again).
 */
const codeCache = new Map<string, Map<string, ivm.ExternalCopy<ArrayBuffer>>>();

function codeCacheOf(key: string): Map<string, ivm.ExternalCopy<ArrayBuffer>> {
  let store = codeCache.get(key);
  if (!store) {
    if (codeCache.size >= CODE_CACHE_TOOLS) {
      const [oldest, dropped] = codeCache.entries().next().value!;
      codeCache.delete(oldest);
      for (const copy of dropped.values()) copy.release();
    }
    codeCache.set(key, (store = new Map()));
  }
  return store;
}

/** A call's tie to its context: id 0 means "no call" — host requests and notifications are refused. */
export interface CallBinding {
  id: number;
}

export interface SlotHost {
  hostRequest(binding: CallBinding, request: unknown): Promise<unknown>;
  notify(binding: CallBinding, kind: unknown, a: unknown, b: unknown): void;
}

interface PreparedContext {
  /** The isolate it was made in: a context of a disposed isolate is never used. */
  isolate?: ivm.Isolate;
  context?: ivm.Context;
  binding: CallBinding;
  invoke?: ivm.Reference;
  run?: ivm.Reference;
  error?: ErrorPayload;
  /** The error came from the tool's own module code (syntax, import, top-level throw/timeout/memory): deterministic per digest. */
  verdict?: boolean;
}

export interface SlotCall {
  id: number;
  input: string;
  env: string;
  /** ctx.log lines ranked below this (LOG_THRESHOLDS index) are dropped inside the isolate; none when absent. */
  level?: number;
}

type Done = Extract<FromWorker, { t: "done" }>;

export class IsolateSlot {
  busy = false;
  lastUsed = Date.now();
  private isolate: ivm.Isolate | undefined;
  private shim: ivm.Script | undefined;
  private contextsMade = 0;
  private ready: PreparedContext[] = [];
  /** A context being prepared ahead; a call arriving meanwhile waits for it instead of touching the isolate too. */
  private preparing: Promise<void> | undefined;
  private running: { id: number; aborted: boolean } | undefined;
  /** WARDEN_TIMINGS=1 only: the last call's [waiting for a context, apply, heap check] in ms. */
  lastTimings: [number, number, number] = [0, 0, 0];

  constructor(
    readonly tool: WireTool,
    private readonly host: SlotHost,
    /** V8 lost control of this slot's isolate (isolated-vm onCatastrophicError): the worker must go down. */
    private readonly onFault: (slot: IsolateSlot, runningCallId: number | undefined, message: string) => void = () => undefined,
  ) {}

  hasReady(): boolean {
    return this.ready.length > 0 && this.ready[0]!.error === undefined;
  }

  /** Prepares one more context for the next calls (the worker calls this while the slot is idle). Resolves false when full. */
  async refill(): Promise<boolean> {
    if (this.busy || this.preparing || this.ready.length >= READY_DEPTH) return false;
    // Recycling disposes the isolate, and with it every context prepared in it: only recycle with none waiting.
    if (this.ready.length > 0 && this.contextsMade >= RECYCLE_AFTER_CONTEXTS) return false;
    let ok = false;
    const work = this.prepareContext().then((prepared) => {
      if (prepared.isolate && prepared.isolate === this.isolate) {
        this.ready.push(prepared);
        ok = prepared.error === undefined;
      } else this.releaseContext(prepared);
    });
    this.preparing = work;
    try {
      await work;
    } finally {
      this.preparing = undefined;
    }
    return ok;
  }

  abort(id: number): boolean {
    if (this.running?.id !== id) return false;
    this.running.aborted = true;
    this.disposeIsolate();
    return true;
  }

  dispose(): void {
    this.disposeIsolate();
  }

  async run(call: SlotCall): Promise<Done> {
    this.busy = true;
    this.lastUsed = Date.now();
    const running = (this.running = { id: call.id, aborted: false });
    const t0 = TIMINGS_ON ? performance.now() : 0;
    if (TIMINGS_ON) this.lastTimings = [0, 0, 0];
    const stopped = (): Done => ({ t: "done", id: call.id, ok: false, error: { code: "E_CANCELLED", message: "the call was stopped" } });
    let prepared: PreparedContext | undefined;
    try {
      if (this.preparing) await this.preparing;
      if (running.aborted) return stopped();
      const ahead = this.ready.shift();
      prepared = ahead ?? (await this.prepareContext());
      if (ahead && prepared.error?.code === "E_TIMEOUT") {
        this.releaseContext(prepared);
        prepared = await this.prepareContext();
      }
      if (running.aborted) return stopped();
      if (prepared.error) return { t: "done", id: call.id, ok: false, error: prepared.error, ...(prepared.verdict ? { verdict: true as const } : {}) };
      prepared.binding.id = call.id;
      const t1 = TIMINGS_ON ? performance.now() : 0;
      const args = [prepared.run!.derefInto(), call.input, call.env, this.tool.limits.outputBytes, call.level ?? 0];
      const result: unknown = await prepared.invoke!.apply(undefined, args, { result: { promise: true } });
      const t2 = TIMINGS_ON ? performance.now() : 0;
      const done = this.checkHeap(call.id, decodeResult(call.id, result));
      if (TIMINGS_ON) this.lastTimings = [t1 - t0, t2 - t1, performance.now() - t2];
      return done;
    } catch (err) {
      if (running.aborted) return stopped();
      return { t: "done", id: call.id, ok: false, error: classify(err, this.tool) };
    } finally {
      if (prepared) {
        prepared.binding.id = 0; // the call has ended: anything the tool still does is refused
        this.releaseContext(prepared);
      }
      this.running = undefined;
      this.busy = false;
    }
  }

  /** memoryLimit is soft (external allocations, late GC): an isolate over budget after a call is replaced. */
  private checkHeap(id: number, done: Done): Done {
    const isolate = this.isolate;
    if (!isolate || isolate.isDisposed) return done;
    let used: number;
    try {
      // Sync is safe here and cheaper on the hot path: the call's apply has settled and nothing else runs in this
      // isolate while the slot is busy (no refill), so this never waits behind tool code.
      const stats = isolate.getHeapStatisticsSync();
      used = stats.used_heap_size + stats.externally_allocated_size;
    } catch {
      return done; // disposed meanwhile (an abort): nothing left to measure
    }
    if (used <= RECYCLE_HEAP_BYTES) return done;
    if (this.isolate === isolate) this.disposeIsolate();
    if (used > (this.tool.limits.memoryMb + GARBAGE_HEADROOM_MB) * MB)
      return { t: "done", id, ok: false, error: memoryError(this.tool) };
    return done;
  }

  private ensureIsolate(): { isolate: ivm.Isolate; shim: ivm.Script } {
    if (this.isolate && !this.isolate.isDisposed && this.shim && this.contextsMade < RECYCLE_AFTER_CONTEXTS) return { isolate: this.isolate, shim: this.shim };
    this.disposeIsolate();
    const isolate = new ivm.Isolate({
      memoryLimit: this.tool.limits.memoryMb + GARBAGE_HEADROOM_MB,
      onCatastrophicError: (message) => this.onFault(this, this.running?.id, String(message).slice(0, 200)),
    });
    // Trusted code only (no tool code has run in this isolate yet), so the sync compile is bounded.
    const shim = isolate.compileScriptSync(CTX_SHIM_SOURCE, { filename: "warden:ctx" });
    this.isolate = isolate;
    this.shim = shim;
    this.contextsMade = 0;
    return { isolate, shim };
  }

  private async prepareContext(): Promise<PreparedContext> {
    const binding: CallBinding = { id: 0 };
    let isolate: ivm.Isolate;
    let shim: ivm.Script;
    let context: ivm.Context;
    try {
      ({ isolate, shim } = this.ensureIsolate());
      this.contextsMade += 1;
    } catch (err) {
      this.disposeIsolate();
      return { binding, error: { code: "E_SANDBOX_UNAVAILABLE", message: `could not create an isolate: ${(err as Error).message}` } };
    }
    try {
      context = await isolate.createContext();
    } catch (err) {
      if (this.isolate === isolate) this.disposeIsolate();
      return { isolate, binding, error: isolate.isDisposed ? { code: "E_CANCELLED", message: "the isolate was disposed" } : { code: "E_SANDBOX_UNAVAILABLE", message: `could not create a context: ${(err as Error).message}` } };
    }
    const prepared: PreparedContext = { isolate, context, binding };
    try {
      // One bridge per context (one set): "request" answers a promise, anything else is a notification.
      const bridge = (kind: unknown, a: unknown, b: unknown) =>
        kind === "request" ? this.host.hostRequest(binding, a) : this.host.notify(binding, kind, a, b);
      // Sync: trusted code only (the shim), in an isolate no other step is using (the slot prepares one context
      // at a time and never while a call runs), so it is bounded; each async step costs a thread hop (~0.1 ms).
      context.global.setSync("__wardenHost", new ivm.Reference(bridge));
      prepared.invoke = shim.runSync(context, { reference: true }) as ivm.Reference;
    } catch (err) {
      prepared.error = classify(err, this.tool);
      return prepared;
    }
    try {
      prepared.run = await this.evaluateTool(isolate, context);
    } catch (err) {
      prepared.error = classify(err, this.tool);
      // Disposal by an abort is not the tool's module failing.
      prepared.verdict = !isolate.isDisposed || prepared.error.code === "E_MEMORY";
    }
    return prepared;
  }

  private async evaluateTool(isolate: ivm.Isolate, context: ivm.Context): Promise<ivm.Reference> {
    const { modules, entry, limits } = this.tool;
    const cache = codeCacheOf(this.tool.key);
    const compiled = new Map<string, Promise<ivm.Module>>();
    const pathOf = new Map<ivm.Module, string>();
    const linked = new Map<string, ivm.Module>();
    let refused: WardenError | undefined;
    const compile = (path: string): Promise<ivm.Module> => {
      let module = compiled.get(path);
      if (!module) {
        const cachedData = cache.get(path);
        module = isolate
          .compileModule(modules[path]!, { filename: `tool:///${path}`, ...(cachedData ? { cachedData } : { produceCachedData: true }) })
          .then((m) => {
            const result = m as ivm.Module & ivm.CachedDataResult & { cachedDataRejected?: boolean };
            if (cachedData && result.cachedDataRejected) cache.delete(path);
            else if (!cachedData && result.cachedData && !cache.has(path)) cache.set(path, result.cachedData);
            pathOf.set(m, path);
            return m;
          });
        module.catch(() => undefined);
        compiled.set(path, module);
      }
      return module;
    };
    const resolve = (specifier: string, referrer: ivm.Module): string => {
      const resolution = resolveToolImport(specifier, pathOf.get(referrer) ?? entry, modules);
      if (!resolution.ok) throw (refused = new WardenError("E_TOOL_FAILED", resolution.message));
      return resolution.path;
    };
    /**
     * Once this digest's modules are in the code cache (its first context compiled them), compiling and linking
     * run synchronously: they deserialize cached code and run none of the tool's code, so they are bounded, and
     * they spare two thread hops per context (measured: ~0.2 ms of ~1.3). The first compile stays asynchronous:
     * parsing up to 8 MB of source must not stall this thread, which relays every other call.
     */
    const compileCached = (path: string): ivm.Module => {
      const known = linked.get(path);
      if (known) return known;
      const cachedData = cache.get(path);
      // A module whose cache was rejected (or never made) is compiled here once more, producing it again.
      const module = isolate.compileModuleSync(modules[path]!, { filename: `tool:///${path}`, ...(cachedData ? { cachedData } : { produceCachedData: true }) });
      const result = module as ivm.Module & ivm.CachedDataResult & { cachedDataRejected?: boolean };
      if (cachedData && result.cachedDataRejected) cache.delete(path);
      else if (!cachedData && result.cachedData && !cache.has(path)) cache.set(path, result.cachedData);
      pathOf.set(module, path);
      linked.set(path, module);
      compiled.set(path, Promise.resolve(module));
      return module;
    };
    try {
      let root: ivm.Module;
      if (cache.has(entry)) {
        root = compileCached(entry);
        root.instantiateSync(context, (specifier, referrer) => compileCached(resolve(specifier, referrer)));
      } else {
        root = await compile(entry);
        await root.instantiate(context, (specifier, referrer) => compile(resolve(specifier, referrer)));
      }
      await root.evaluate({ timeout: Math.min(limits.timeoutMs, TOP_LEVEL_BUDGET_MS) });
      // The namespace itself, not its default export: reading that is one more hop; invoke reads it in the isolate.
      return root.namespace;
    } catch (err) {
      throw refused ?? err;
    } finally {
      for (const module of compiled.values()) module.then((m) => m.release(), () => undefined);
    }
  }

  private releaseContext(prepared: PreparedContext): void {
    if (!prepared.isolate || prepared.isolate.isDisposed) return;
    try {
      prepared.invoke?.release();
      prepared.run?.release();
      prepared.context?.release();
    } catch {
      // Already gone with its isolate (memory-limit disposal): nothing left to release.
    }
  }

  private disposeIsolate(): void {
    const isolate = this.isolate;
    this.isolate = undefined;
    this.shim = undefined;
    this.ready = [];
    if (isolate && !isolate.isDisposed) isolate.dispose();
  }
}

function memoryError(tool: WireTool): ErrorPayload {
  return { code: "E_MEMORY", message: `${tool.name} used more than its memory budget of ${tool.limits.memoryMb} MB` };
}

/** Turns what an isolate threw into an outcome; never forwards a host stack. */
function classify(err: unknown, tool: WireTool): ErrorPayload {
  if (err instanceof WardenError) return err.toPayload();
  const message = err instanceof Error ? err.message : String(err);
  if (/memory limit|out of memory|allocation failed/i.test(message)) return memoryError(tool);
  if (/timed out/i.test(message))
    return { code: "E_TIMEOUT", message: `${tool.name}: module top-level code ran longer than ${TOP_LEVEL_BUDGET_MS} ms` };
  if (/disposed/i.test(message)) return { code: "E_SANDBOX_CRASHED", message: `${tool.name}: the isolate was disposed during the call` };
  return { code: "E_TOOL_FAILED", message: `${tool.name}: ${message}` };
}

function decodeResult(id: number, result: unknown): Done {
  if (typeof result !== "string" || result.length === 0)
    return { t: "done", id, ok: false, error: { code: "E_TOOL_FAILED", message: "the tool produced no result" } };
  const body = result.slice(1);
  switch (result[0]) {
    case "O": {
      const colon = body.indexOf(":");
      return { t: "done", id, ok: true, json: body.slice(colon + 1), notified: Number(body.slice(0, colon)) };
    }
    case "L":
      return { t: "done", id, ok: false, error: { code: "E_OUTPUT_TOO_LARGE", message: `the output is at least ${body} bytes of JSON` } };
    case "U":
      return { t: "done", id, ok: false, error: { code: "E_TOOL_FAILED", message: body } };
    default:
      // An ArrayBuffer past memoryLimit fails inside the isolate instead of disposing it; the tool did not catch it.
      if (body === "Array buffer allocation failed") return { t: "done", id, ok: false, error: { code: "E_MEMORY", message: "the tool ran out of memory (array buffer allocation failed)" } };
      return { t: "done", id, ok: false, error: { code: "E_TOOL_FAILED", message: body } };
  }
}
