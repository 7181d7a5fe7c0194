import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";

/**
 * Link checker for the repository's own documentation: every relative link in
 * README.md and docs/**\/*.md must name a file (or folder) inside the
 * repository. A link to `../shared/SPEC.md` works on the author's machine and
 * is dead for everybody who clones the project.
 */

export interface MarkdownLink {
  /** 1-based line of the link in its file. */
  line: number;
  /** The target as written, e.g. "docs/config.md#quarantine". */
  target: string;
}

export interface LinkProblem {
  file: string;
  line: number;
  target: string;
  problem: string;
}

/** Absolute URLs (https:, mailto:, …) are not files of this repository and are not checked. */
const URL_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Relative link targets of a markdown text: inline links and images
 * `[text](target "title")`, `<target>` forms, reference definitions
 * `[id]: target` and same-file anchors `#heading`. Fenced code blocks and
 * inline code spans are skipped: a `[x](y)` in an example is not a link.
 */
export function relativeLinks(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  let fence: string | null = null;
  markdown.split("\n").forEach((raw, i) => {
    const fenceMatch = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fenceMatch) {
      const marker = fenceMatch[1]!;
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      return;
    }
    if (fence !== null) return;
    const line = raw.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, (span) => " ".repeat(span.length));
    const found: string[] = [];
    const definition = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
    if (definition) found.push(definition[1]!);
    // `](` opens a link destination; the destination ends at the first space (title follows) or `)`.
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]*)/g)) found.push(m[1]!);
    for (let target of found) {
      if (target.startsWith("<") && target.endsWith(">")) target = target.slice(1, -1);
      if (target === "" || URL_SCHEME.test(target)) continue;
      links.push({ line: i + 1, target });
    }
  });
  return links;
}

/** README.md plus every .md file under docs/, as paths relative to `root`. */
export function documentationFiles(root: string): string[] {
  const files = existsSync(join(root, "README.md")) ? ["README.md"] : [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile() && entry.name.endsWith(".md")) files.push(rel);
    }
  };
  if (existsSync(join(root, "docs"))) walk("docs");
  return files.sort();
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to "-", "-1", "-2" … for repeats. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const raw of markdown.split("\n")) {
    const fenceMatch = /^\s{0,3}(`{3,}|~{3,})/.exec(raw);
    if (fenceMatch) {
      const marker = fenceMatch[1]!;
      if (fence === null) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      continue;
    }
    const heading = fence === null ? /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(raw) : null;
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/**
 * Every relative link of `files` (relative to `root`) must resolve to an
 * existing path inside `root` (after following symlinks), and a `#anchor` on
 * a markdown target must name one of its headings.
 */
export function checkLinks(root: string, files: readonly string[]): LinkProblem[] {
  const realRoot = realpathSync(root);
  const problems: LinkProblem[] = [];
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    for (const { line, target } of relativeLinks(text)) {
      const report = (problem: string) => problems.push({ file, line, target, problem });
      const hash = target.indexOf("#");
      const pathPart = (hash < 0 ? target : target.slice(0, hash)).split("?")[0]!;
      const anchor = hash < 0 ? null : target.slice(hash + 1);
      let decoded: string;
      try {
        decoded = decodeURIComponent(pathPart);
      } catch {
        report("is not a valid percent-encoded path");
        continue;
      }
      if (isAbsolute(decoded)) {
        report("is an absolute path; write it relative to the file");
        continue;
      }
      // "#anchor" alone is a heading of this same file.
      const abs = resolve(root, decoded === "" ? file : join(dirname(file), decoded));
      if (!inside(resolve(root), abs)) {
        report("points outside the repository");
        continue;
      }
      if (!existsSync(abs)) {
        report("does not exist");
        continue;
      }
      if (!inside(realRoot, realpathSync(abs))) {
        report("is a link that leads outside the repository");
        continue;
      }
      if (anchor && abs.endsWith(".md") && statSync(abs).isFile() && !headingAnchors(readFileSync(abs, "utf8")).has(decodeURIComponent(anchor)))
        report(`has no heading for the anchor #${anchor}`);
    }
  }
  return problems;
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}
