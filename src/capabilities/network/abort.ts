import { abortPayload, type ErrorPayload } from "../../errors.js";

/** What an aborted request answers: the deadline's or canceller's own code (E_TIMEOUT, …), else E_CANCELLED. */
export function requestAbortPayload(signal: AbortSignal, host: string): ErrorPayload {
  return abortPayload(signal.reason, `network: request to ${host} was cancelled`);
}

export class Aborted extends Error {
  constructor() {
    super("aborted");
  }
}

/** Settles with `work`, or rejects with `Aborted` as soon as `signal` fires (work keeps running, its result is ignored). */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
