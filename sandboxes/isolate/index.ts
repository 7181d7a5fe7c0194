/**
 * The isolate sandbox backend: tools run in fresh V8 contexts (isolated-vm) in
 * worker processes, under the Executor contract of ../executor.ts.
 */
import { IsolateExecutor, type IsolateExecutorOptions } from "./isolate-executor.js";

export { IsolateExecutor, type IsolateExecutorOptions };

export function createIsolateExecutor(options: IsolateExecutorOptions = {}): IsolateExecutor {
  return new IsolateExecutor(options);
}
