/**
 * Starting one hardened container, for every Docker backend: create, attach to
 * its stdio BEFORE `start` (so no byte of output is lost), start, inspect.
 * What flows over the stdio is the backend's protocol: the one-shot container
 * tools collect it (sandboxes/container/started-sandbox.ts), a hosted MCP
 * server speaks JSON-RPC over it (sandboxes/mcp-server).
 */
import type Dockerode from "dockerode";
import type { Duplex } from "node:stream";
import { engineCall } from "./engine.js";

export interface StartedContainer {
  container: Dockerode.Container;
  id: string;
  stdio: Duplex;
  /** Resolves when the container's stdio closed (it exited, was killed or removed). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Address on the egress network; undefined without network. */
  ip: string | undefined;
  /** Image ID the engine actually started (checked against the approval); only when inspected. */
  imageId: string | undefined;
}

/** Runs after start, before the container is handed out (the gate keeps a one-shot tool from running meanwhile). */
export type AfterStart = (info: { pid: number; ip: string | undefined }) => Promise<void>;

export interface StartOptions {
  /** The egress network whose address to read; unset without network. */
  egressNetwork?: string;
  afterStart?: AfterStart;
  /** Inspect after start even with no network and no afterStart (to read the started image ID). */
  inspect?: boolean;
  /** Every chunk of the multiplexed stdout/stderr stream, registered before start. */
  onData?(chunk: Buffer): void;
  /** Once, when the stream ended (before `ended` resolves). */
  onEnd?(): void;
  /** After create and attach, before start (e.g. join a second network: the create call takes only one). */
  beforeStart?(container: Dockerode.Container): Promise<void>;
}

export async function startContainer(docker: Dockerode, spec: Dockerode.ContainerCreateOptions, options: StartOptions = {}): Promise<StartedContainer> {
  const container = await engineCall("create container", docker.createContainer(spec));
  try {
    const stdio = (await engineCall(
      "attach",
      container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }),
    )) as unknown as Duplex;
    let ended = false;
    const endedPromise = new Promise<void>((resolve) => {
      const finish = (): void => {
        if (ended) return;
        ended = true;
        options.onEnd?.();
        resolve();
      };
      if (options.onData) stdio.on("data", options.onData);
      stdio.once("end", finish);
      stdio.once("close", finish);
      stdio.once("error", finish);
    });
    await options.beforeStart?.(container);
    await engineCall("start", container.start());
    let ip: string | undefined;
    let imageId: string | undefined;
    if (options.egressNetwork || options.afterStart || options.inspect) {
      const info = await engineCall("inspect", container.inspect());
      imageId = info.Image;
      if (options.egressNetwork) ip = info.NetworkSettings.Networks[options.egressNetwork]?.IPAddress || undefined;
      await options.afterStart?.({ pid: info.State.Pid, ip });
    }
    return { container, id: container.id, stdio, ended: endedPromise, isEnded: () => ended, ip, imageId };
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
