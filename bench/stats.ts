import { readFileSync, readdirSync } from "node:fs";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** RSS in MiB of a process and all its descendants (warden's isolate workers count too). */
export function treeRssMb(pid: number): number {
  return round(treeRss(pid).reduce((sum, p) => sum + p.rssMb, 0), 1);
}

/**
 * Each process of the tree (the first is `pid`): where the RSS goes, anonymous memory apart from mapped files, and
 * PSS (shared pages split between the processes that map them: RSS counts the Node binary's pages once per process).
 */
export function treeRss(pid: number): Array<{ pid: number; rssMb: number; anonMb: number; pssMb: number }> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      /* process exited */
    }
  }
  const out: Array<{ pid: number; rssMb: number; anonMb: number; pssMb: number }> = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    try {
      const status = readFileSync(`/proc/${p}/status`, "utf8");
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
      let pssKb = 0;
      try {
        pssKb = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0);
      } catch {
        /* no smaps_rollup (older kernel): PSS unknown */
      }
      out.push({ pid: p, rssMb: round(kb("VmRSS") / 1024, 1), anonMb: round(kb("RssAnon") / 1024, 1), pssMb: round(pssKb / 1024, 1) });
    } catch {
      /* gone */
    }
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}
