/**
 * Child process of raw-rate.ts: the physical ceiling of "fresh context per
 * call" on this machine — two isolates, each on its own thread, looping
 * create context → run a trivial function → release, with no broker, IPC or
 * tool code. Isolates are recycled every 100 contexts as the executor does,
 * because released contexts stay on the heap until their isolate is disposed.
 */
import ivm from "isolated-vm";

const RECYCLE_AFTER_CONTEXTS = 100;

async function loop(until: number): Promise<number> {
  let count = 0;
  let isolate = new ivm.Isolate({ memoryLimit: 64 });
  const script = () => isolate.compileScriptSync("(function run(x) { return x + 1; })(1)");
  let compiled = script();
  while (Date.now() < until) {
    if (count > 0 && count % RECYCLE_AFTER_CONTEXTS === 0) {
      isolate.dispose();
      isolate = new ivm.Isolate({ memoryLimit: 64 });
      compiled = script();
    }
    const context = await isolate.createContext();
    await compiled.run(context);
    context.release();
    count += 1;
  }
  isolate.dispose();
  return count;
}

const durationMs = Number(process.argv[2] ?? 1000);
const threads = Number(process.argv[3] ?? 2);
const started = Date.now();
const counts = await Promise.all(Array.from({ length: threads }, () => loop(started + durationMs)));
const elapsed = (Date.now() - started) / 1000;
process.send!({ perSecond: counts.reduce((a, b) => a + b, 0) / elapsed });
