/**
 * The real Mermaid parser as a test oracle: runs test/diagram/mermaid-parse.mjs (the pinned
 * `mermaid` package under jsdom, in its own Node process because mermaid is ESM only) and returns
 * the graph Mermaid understood, or throws Mermaid's parse error.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

/** A node as Mermaid's flowchart database holds it. */
export interface ParsedVertex {
  readonly id: string;
  readonly text: string;
  /** The label as a reader sees it: entities decoded, line breaks as "\n". */
  readonly shown: string;
  readonly type: string | null;
}

/** An edge as Mermaid's flowchart database holds it. */
export interface ParsedEdge {
  readonly start: string;
  readonly end: string;
  readonly text: string;
  readonly stroke: string;
}

/** A subgraph: its id, title and direct members (node or subgraph ids). */
export interface ParsedSubgraph {
  readonly id: string;
  readonly title: string;
  readonly nodes: string[];
}

/** What Mermaid parsed. */
export interface ParsedFlowchart {
  readonly type: string;
  readonly direction: string;
  readonly vertices: ParsedVertex[];
  readonly edges: ParsedEdge[];
  readonly subgraphs: ParsedSubgraph[];
}

/** Diagrams parsed ahead by {@link parseMermaidAhead}: the chart, or Mermaid's error message. */
const parsedAhead = new Map<string, ParsedFlowchart | { error: string }>();

/**
 * Parses several diagrams with one Mermaid process (loading mermaid and jsdom takes about 1.5 s of
 * CPU per process), for {@link parseMermaid} to return afterwards. Each diagram is parsed on its
 * own by the same code as one at a time (test/diagram/mermaid-parse.mjs `--many`).
 */
export function parseMermaidAhead(texts: readonly string[]): void {
  const result = spawnSync(process.execPath, [path.join(__dirname, "mermaid-parse.mjs"), "--many"], { input: JSON.stringify(texts), encoding: "utf8", timeout: 120000 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`Mermaid parse process failed: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as (ParsedFlowchart | { error: string })[];
  if (parsed.length !== texts.length) throw new Error(`Mermaid parsed ${parsed.length} of ${texts.length} diagrams`);
  texts.forEach((text, i) => parsedAhead.set(text, parsed[i]));
}

/** Parses `text` with the real Mermaid parser; throws with Mermaid's message when it does not parse. */
export function parseMermaid(text: string): ParsedFlowchart {
  const ahead = parsedAhead.get(text);
  if (ahead !== undefined) {
    if ("error" in ahead) throw new Error(`Mermaid did not parse the diagram: ${ahead.error}`);
    return ahead;
  }
  const result = spawnSync(process.execPath, [path.join(__dirname, "mermaid-parse.mjs")], { input: text, encoding: "utf8", timeout: 60000 });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`Mermaid did not parse the diagram: ${result.stderr}`);
  return JSON.parse(result.stdout) as ParsedFlowchart;
}

/** Mermaid's `<br>` line breaks as lines. */
export function linesOf(text: string): string[] {
  return text.split(/<br\s*\/?>/);
}
