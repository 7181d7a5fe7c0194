/**
 * JavaScript that runs inside every fresh context BEFORE the tool's module:
 * it removes what a tool must not have, builds `ctx`, and returns `invoke`,
 * the one function the worker calls. The host bridge (`__wardenHost`, a
 * Reference) is taken into this closure and deleted from the global, so tool
 * code can reach it only through `ctx`.
 *
 * `invoke` always resolves to a string the worker decodes:
 *   "O" + JSON text of the output | "F" + message (the tool threw) |
 *   "U" + message (output is not JSON) | "L" + length (output too large).
 * Awaiting and JSON.stringify-ing the result happen here, inside the isolate,
 * so a then-able, a getter or a cycle only ever runs against the tool itself.
 */
import { MAX_FETCH_BODY_BYTES, MAX_HEADER_CHARS, MAX_HEADERS, MAX_IN_FLIGHT_BYTES, MAX_PATH_CHARS, MAX_URL_CHARS, MAX_WRITE_BYTES } from "./call-bounds.js";
import { MAX_HOST_REQUESTS_IN_FLIGHT, MAX_LOG_MESSAGE_CHARS, MAX_NOTIFICATIONS_PER_CALL } from "./tool-bridge.js";

export const CTX_SHIM_SOURCE = String.raw`(function () {
  "use strict";
  const g = globalThis;
  const hostRef = g.__wardenHost;
  delete g.__wardenHost;
  // SharedArrayBuffer/Atomics: Atomics.wait blocks the isolate thread where no deadline reaches it.
  // WebAssembly: wasm memory is allocated outside memoryLimit, so growth would escape the heap budget.
  // FinalizationRegistry: its callbacks run after the call, in a later task — code that outlives the call.
  // Intl: every Intl object holds ICU memory outside the V8 heap (measured: 200k Intl.Segmenter under a 32 MB
  // budget took the worker to 1.4 GB); without the constructors a tool cannot keep any.
  for (const name of ["SharedArrayBuffer", "Atomics", "WebAssembly", "FinalizationRegistry", "Intl"]) delete g[name];
  // Resizable ArrayBuffers (new ArrayBuffer(n, { maxByteLength })) get their pages straight from V8's page
  // allocator, not through isolated-vm's limited allocator: resize/transfer to 1 GB passed a 32 MB budget and the
  // memory outlived the call. V8 13 has no flag to turn them off, so the constructor every path reaches (the
  // global, ArrayBuffer.prototype.constructor, subclasses via extends) refuses the option before V8 sees it.
  // Plain buffers, typed arrays, slice and transfer of a fixed buffer all go through the limited allocator.
  const RealArrayBuffer = g.ArrayBuffer, construct = Reflect.construct, TypeErrorCtor = TypeError, defineProperty = Object.defineProperty;
  const SafeArrayBuffer = function ArrayBuffer(length, options) {
    if (new.target === undefined) throw new TypeErrorCtor("Constructor ArrayBuffer requires 'new'");
    // Only read, never forwarded: a getter that answers differently the second time changes nothing.
    if (options !== null && (typeof options === "object" || typeof options === "function") && options.maxByteLength !== undefined)
      throw new TypeErrorCtor("resizable ArrayBuffers are not available to isolate tools (their memory is outside the tool's memory budget)");
    return construct(RealArrayBuffer, [length], new.target);
  };
  defineProperty(SafeArrayBuffer, "length", { value: 1 });
  defineProperty(SafeArrayBuffer, "prototype", { value: RealArrayBuffer.prototype, writable: false, enumerable: false, configurable: false });
  defineProperty(SafeArrayBuffer, "isView", { value: RealArrayBuffer.isView, writable: true, configurable: true });
  defineProperty(SafeArrayBuffer, Symbol.species, { get: function () { return this; }, configurable: true });
  defineProperty(RealArrayBuffer.prototype, "constructor", { value: SafeArrayBuffer, writable: true, configurable: true });
  defineProperty(g, "ArrayBuffer", { value: SafeArrayBuffer, writable: true, configurable: true });
  delete RealArrayBuffer.prototype.resize;

  const parse = JSON.parse, stringify = JSON.stringify, freeze = Object.freeze, keys = Object.keys, setPrototypeOf = Object.setPrototypeOf, hasOwn = Object.hasOwn;
  const StringCtor = String, NumberCtor = Number, ErrorCtor = Error, Uint8ArrayCtor = Uint8Array, fromCharCode = String.fromCharCode;
  const isView = ArrayBuffer.isView;
  // isolated-vm reads these options with ordinary property lookups: with Object.prototype as their prototype a
  // tool's "Object.prototype.timeout = 1" put the bridge under a 1 ms timeout. Null prototypes, frozen, made
  // before any tool code runs.
  const plain = (o) => freeze(setPrototypeOf(o, null));
  const copyOptions = plain({ arguments: plain({ copy: true }), result: plain({ promise: true, copy: true }) });
  const notifyOptions = plain({ arguments: plain({ copy: true }) });

  // Bounds applied HERE, before anything is copied out of the isolate (a copy of an 8 MB string costs the worker
  // and the broker 8 MB each, however early the host would refuse it). They mirror the host's own limits.
  const MAX_NOTIFICATIONS = ${MAX_NOTIFICATIONS_PER_CALL};
  const MAX_LOG_CHARS = ${MAX_LOG_MESSAGE_CHARS};
  const MAX_IN_FLIGHT = ${MAX_HOST_REQUESTS_IN_FLIGHT};
  const MAX_PATH_CHARS = ${MAX_PATH_CHARS};
  const MAX_URL_CHARS = ${MAX_URL_CHARS};
  const MAX_HEADERS = ${MAX_HEADERS};
  const MAX_HEADER_CHARS = ${MAX_HEADER_CHARS};
  const MAX_FETCH_BODY_BYTES = ${MAX_FETCH_BODY_BYTES};
  const MAX_WRITE_BYTES = ${MAX_WRITE_BYTES};
  const MAX_IN_FLIGHT_BYTES = ${MAX_IN_FLIGHT_BYTES};

  function refused(code, message) {
    const err = new ErrorCtor(message);
    err.code = code;
    return err;
  }

  // Fire-and-forget: ctx.log never waits on the broker.
  // Counted, so the worker can wait for every notification sent before the result (applyIgnored is
  // asynchronous: without this the final ctx.progress could arrive after the call ended and be dropped).
  // Past the per-call limit nothing more is sent at all (one more, so the host can say lines were dropped):
  // a burst of ~1M ctx.log once queued ~1M tasks on the worker's main thread, and the abort of the call
  // waited behind them until the worker was killed.
  let notified = 0;
  const notify = (kind, a, b) => {
    if (notified > MAX_NOTIFICATIONS) return;
    notified++;
    try {
      hostRef.applyIgnored(undefined, [kind, a, b], notifyOptions);
    } catch {
      // The call has ended or the bridge refused: a notification is never worth an error in the tool.
    }
  };

  function describe(e) {
    try {
      const message = e !== null && typeof e === "object" && typeof e.message === "string" ? e.message : StringCtor(e);
      return message.length > 4000 ? message.slice(0, 4000) + "…" : message;
    } catch {
      return "the tool threw a value that cannot be turned into a message";
    }
  }

  let inFlight = 0, inFlightBytes = 0;
  async function hostCall(request, bytes) {
    if (inFlight >= MAX_IN_FLIGHT)
      throw refused("E_BUSY", "more than " + MAX_IN_FLIGHT + " host calls in flight; await some before starting more");
    if (inFlightBytes + bytes > MAX_IN_FLIGHT_BYTES)
      throw refused("E_BUSY", "more than " + MAX_IN_FLIGHT_BYTES + " bytes of host call data in flight; await some before starting more");
    inFlight++;
    inFlightBytes += bytes;
    let result;
    try {
      result = await hostRef.apply(undefined, ["request", request], copyOptions);
    } catch {
      // Never the bridge's own error: its stack names host files.
      result = undefined;
    } finally {
      inFlight--;
      inFlightBytes -= bytes;
    }
    if (result && result.ok === true) return result.value;
    throw refused(result && result.error ? StringCtor(result.error.code) : "E_TOOL_FAILED", result && result.error ? StringCtor(result.error.message) : "host call failed");
  }

  const sizeOf = (data) => (typeof data === "string" ? data.length : data.byteLength);
  function checkPath(path) {
    const p = StringCtor(path);
    // One character over is enough for the host to refuse (and audit) it; the rest is never copied.
    return p.length > MAX_PATH_CHARS ? p.slice(0, MAX_PATH_CHARS + 1) : p;
  }
  function boundedData(data, max, what) {
    // Measured before copying: a string's UTF-8 size is never below its length, so this never refuses wrongly.
    const size = typeof data === "string" ? data.length : data instanceof SafeArrayBuffer || isView(data) ? data.byteLength : 0;
    if (size > max) throw refused("E_CAPABILITY_DENIED", what + " of " + size + " bytes exceeds the limit of " + max + " bytes");
    return toBytes(data);
  }

  function toBytes(data) {
    if (typeof data === "string") return data;
    if (data instanceof SafeArrayBuffer) return new Uint8ArrayCtor(data.slice(0));
    if (isView(data)) return new Uint8ArrayCtor(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    return StringCtor(data);
  }

  function plainHeaders(headers) {
    const out = {};
    if (headers !== null && typeof headers === "object") for (const k of keys(headers)) out[StringCtor(k)] = StringCtor(headers[k]);
    return out;
  }

  function requestHeaders(headers) {
    const out = plainHeaders(headers);
    const names = keys(out);
    if (names.length > MAX_HEADERS) throw refused("E_CAPABILITY_DENIED", "network: more than " + MAX_HEADERS + " request headers");
    let chars = 0;
    for (const name of names) chars += name.length + out[name].length;
    if (chars > MAX_HEADER_CHARS) throw refused("E_CAPABILITY_DENIED", "network: request headers exceed " + MAX_HEADER_CHARS + " bytes");
    return out;
  }

  function utf8Decode(bytes) {
    let out = "";
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i];
      let cp = 0xfffd, n = 1;
      if (b < 0x80) cp = b;
      else if (b >= 0xc2 && b < 0xe0 && i + 1 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80) { cp = ((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f); n = 2; }
      else if (b >= 0xe0 && b < 0xf0 && i + 2 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80) {
        const c = ((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
        if (c >= 0x800 && (c < 0xd800 || c > 0xdfff)) { cp = c; n = 3; }
      } else if (b >= 0xf0 && b < 0xf5 && i + 3 < bytes.length && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80 && (bytes[i + 3] & 0xc0) === 0x80) {
        const c = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
        if (c >= 0x10000 && c <= 0x10ffff) { cp = c; n = 4; }
      }
      out += cp > 0xffff ? fromCharCode(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff)) : fromCharCode(cp);
      i += n;
    }
    return out;
  }

  function response(r) {
    const body = r.body instanceof Uint8ArrayCtor ? r.body : new Uint8ArrayCtor(0);
    return freeze({
      status: NumberCtor(r.status),
      statusText: StringCtor(r.statusText),
      url: StringCtor(r.url),
      ok: r.status >= 200 && r.status < 300,
      headers: freeze(plainHeaders(r.headers)),
      text: async () => utf8Decode(body),
      json: async () => parse(utf8Decode(body)),
      arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
    });
  }

  // ctx.log levels ranked as the MCP levels (LOG_THRESHOLDS: debug 0, info 1, notice 2, warning 3, error 4); the
  // worker delivers an unknown level as info. A line below the client's level would be dropped by the broker:
  // dropped here it costs no hop to the worker's thread and no IPC message (#14).
  const LOG_RANK = plain({ debug: 0, info: 1, warning: 3, error: 4 });
  const rankOf = (level) => (typeof level === "string" && hasOwn(LOG_RANK, level) ? LOG_RANK[level] : 1);

  function makeCtx(env, minRank) {
    const fsCall = (operation, bytes) => hostCall({ op: "fs", operation }, bytes);
    const fs = freeze({
      readFile: async (path, encoding) => fsCall({ op: "readFile", path: checkPath(path), encoding: encoding === "utf8" || encoding === "utf-8" ? "utf8" : undefined }, 0),
      writeFile: async (path, data) => {
        const bytes = boundedData(data, MAX_WRITE_BYTES, "filesystem: ctx.fs.writeFile data");
        return fsCall({ op: "writeFile", path: checkPath(path), data: bytes }, sizeOf(bytes));
      },
      readdir: async (path) => fsCall({ op: "readdir", path: checkPath(path) }, 0),
      stat: async (path) => fsCall({ op: "stat", path: checkPath(path) }, 0),
      mkdir: async (path, options) => fsCall({ op: "mkdir", path: checkPath(path), recursive: !!(options && options.recursive) }, 0),
      rm: async (path, options) => fsCall({ op: "rm", path: checkPath(path), recursive: !!(options && options.recursive) }, 0),
    });
    const text = (value, max) => {
      const t = StringCtor(value);
      return t.length > max ? t.slice(0, max) + "…" : t;
    };
    return freeze({
      env: freeze(env),
      log: (level, message) => void (notified <= MAX_NOTIFICATIONS && rankOf(level) >= minRank && notify("log", text(level, 16), text(message, MAX_LOG_CHARS))),
      progress: (done, total) => void notify("progress", NumberCtor(done), total === undefined ? undefined : NumberCtor(total)),
      fetch: async (url, init) => {
        const i = init !== null && typeof init === "object" ? init : {};
        const u = StringCtor(url);
        if (u.length > MAX_URL_CHARS) throw refused("E_TOOL_FAILED", "fetch: the URL is longer than " + MAX_URL_CHARS + " characters");
        const request = { url: u };
        // A longer method is no method the host accepts: cut, the host refuses it.
        if (i.method !== undefined) request.method = StringCtor(i.method).slice(0, 16);
        if (i.headers !== undefined) request.headers = requestHeaders(i.headers);
        let bytes = 0;
        if (i.body !== undefined && i.body !== null) {
          request.body = boundedData(i.body, MAX_FETCH_BODY_BYTES, "network: request body");
          bytes = sizeOf(request.body);
        }
        return response(await hostCall({ op: "fetch", request }, bytes));
      },
      fs,
      // The call never observes aborted === true: cancellation disposes the isolate at once.
      signal: freeze({ aborted: false, reason: undefined }),
    });
  }

  return async function invoke(namespace, inputJson, envJson, outputBytes, minRank) {
    let run;
    try {
      run = namespace.default;
    } catch (e) {
      return "F" + describe(e);
    }
    if (typeof run !== "function") return "F" + "the entry module must export default async function run(input, ctx)";
    let output;
    try {
      output = await run(parse(inputJson), makeCtx(parse(envJson), minRank));
    } catch (e) {
      return "F" + describe(e);
    }
    let text;
    try {
      text = stringify(output);
    } catch (e) {
      return "U" + "the tool returned a value that is not JSON: " + describe(e);
    }
    if (typeof text !== "string") return "U" + "the tool returned " + (output === undefined ? "undefined" : typeof output) + ", which is not JSON";
    // UTF-8 is never shorter than UTF-16 length, so this refuses early without a false positive; the broker checks bytes.
    if (text.length > outputBytes) return "L" + text.length;
    return "O" + notified + ":" + text;
  };
})()`;
