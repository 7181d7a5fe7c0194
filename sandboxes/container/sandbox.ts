/**
 * One started tool container, attached to its stdio from before `start` (so
 * no byte of output is lost), blocked reading stdin until its call arrives.
 */
import type Dockerode from "dockerode";
import type { Duplex } from "node:stream";
import { engineCall } from "./engine.js";
import { StdioCollector } from "./stdio-collector.js";

export interface StartedSandbox {
  container: Dockerode.Container;
  id: string;
  stdio: Duplex;
  collector: StdioCollector;
  /** Resolves when the container's stdout/stderr close (it exited or was killed). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Address on the egress network; undefined without network. */
  ip: string | undefined;
}

/** Runs after start, before the sandbox is handed out (the gate keeps the tool from running meanwhile). */
export type AfterStart = (info: { pid: number; ip: string | undefined }) => Promise<void>;

export async function startSandbox(
  docker: Dockerode,
  spec: Dockerode.ContainerCreateOptions,
  egressNetwork?: string,
  afterStart?: AfterStart,
): Promise<StartedSandbox> {
  const container = await engineCall("create container", docker.createContainer(spec));
  try {
    const stdio = (await engineCall(
      "attach",
      container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }),
    )) as unknown as Duplex;
    const collector = new StdioCollector();
    let ended = false;
    const endedPromise = new Promise<void>((resolve) => {
      const finish = (): void => {
        if (ended) return;
        ended = true;
        collector.end();
        resolve();
      };
      stdio.on("data", (chunk: Buffer) => collector.push(chunk));
      stdio.on("end", finish);
      stdio.on("close", finish);
      stdio.on("error", finish);
    });
    await engineCall("start", container.start());
    let ip: string | undefined;
    if (egressNetwork || afterStart) {
      const info = await engineCall("inspect", container.inspect());
      if (egressNetwork) ip = info.NetworkSettings.Networks[egressNetwork]?.IPAddress || undefined;
      await afterStart?.({ pid: info.State.Pid, ip });
    }
    return { container, id: container.id, stdio, collector, ended: endedPromise, isEnded: () => ended, ip };
  } catch (err) {
    // Awaited, so the caller's cleanup tracking (and close()) covers it; the reaper catches the rest.
    await removeContainer(container);
    throw err;
  }
}

/** Force-removes a container (kills it if still running). Never throws: the reaper catches what this misses. */
export async function removeContainer(container: Dockerode.Container): Promise<void> {
  try {
    await engineCall("remove container", container.remove({ force: true, v: true }));
  } catch {
    // Gone already (404), removal in progress (409), or engine down: the reaper catches what is left.
  }
}

export async function killContainer(container: Dockerode.Container): Promise<void> {
  try {
    await engineCall("kill container", container.kill({ signal: "SIGKILL" }), 5000);
  } catch {
    // Already exited (409/404) or engine gone: the remove that follows (or the reaper) finishes the job.
  }
}
