/**
 * Starts a hosted server's container attached to its stdio before `start`
 * (no byte is lost). Unlike the one-shot container protocol, stdin stays open
 * for the life of the server: it carries every JSON-RPC request.
 */
import type Dockerode from "dockerode";
import type { Duplex } from "node:stream";
import { engineCall } from "../container/engine.js";
import { removeContainer } from "../container/sandbox.js";

export interface ServerContainer {
  container: Dockerode.Container;
  id: string;
  stdio: Duplex;
  /** Resolves when the container's stdio closed (it exited, was killed or removed). */
  ended: Promise<void>;
  isEnded(): boolean;
  /** Image ID the engine actually started (checked against the approval). */
  imageId: string;
  /** Address on the egress network; undefined without network. */
  ip: string | undefined;
}

export async function startServerContainer(
  docker: Dockerode,
  spec: Dockerode.ContainerCreateOptions,
  egressNetwork?: string,
  afterStart?: (info: { pid: number }) => Promise<void>,
): Promise<ServerContainer> {
  const container = await engineCall("create container", docker.createContainer(spec));
  try {
    const stdio = (await engineCall("attach", container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true }))) as unknown as Duplex;
    let ended = false;
    const endedPromise = new Promise<void>((resolve) => {
      const finish = (): void => {
        ended = true;
        resolve();
      };
      stdio.once("end", finish);
      stdio.once("close", finish);
      stdio.once("error", finish);
    });
    await engineCall("start", container.start());
    const info = await engineCall("inspect", container.inspect());
    const ip = egressNetwork ? info.NetworkSettings.Networks[egressNetwork]?.IPAddress || undefined : undefined;
    await afterStart?.({ pid: info.State.Pid });
    return { container, id: container.id, stdio, ended: endedPromise, isEnded: () => ended, imageId: info.Image, ip };
  } catch (err) {
    await removeContainer(container);
    throw err;
  }
}
