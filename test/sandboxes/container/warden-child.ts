/**
 * A stand-in warden for the kill -9 test: starts one call of a tool that never
 * ends, prints "started" once the call is running, then waits to be killed.
 * argv: serverId.
 */
import { createContainerExecutor } from "../../../sandboxes/container/index.js";
import { call, docker, fixtureTool } from "./fixture.js";

const serverId = process.argv[2]!;
const executor = createContainerExecutor({ docker, serverId, poolSize: 0, reapIntervalMs: 0 });
const tool = fixtureTool("probe", { name: "fixture_orphan", limits: { ...fixtureTool("x").limits, timeoutMs: 2000 } });
void call(executor, tool, { code: "import time\nprint('running', file=__import__('sys').stderr, flush=True)\ntime.sleep(3600)" }, {
  host: { ...(await import("./fixture.js")).recordingHost(), log: () => void process.stdout.write("started\n") },
});
setInterval(() => {}, 1000);
