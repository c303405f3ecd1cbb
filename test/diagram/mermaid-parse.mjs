// Parses Mermaid text from stdin with the real Mermaid parser (the `mermaid` package, pinned in
// package.json) and prints what it understood as JSON: diagram type, vertices, edges, subgraphs.
// Runs as its own Node process because mermaid is ESM only; jsdom supplies the DOM its label
// sanitizer (DOMPurify) needs. A parse error exits 1 with Mermaid's message on stderr.
// With --many, stdin is a JSON array of diagrams and stdout a JSON array of results, each what one
// diagram alone prints, or { error } for one that does not parse.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import("mermaid");

// What a reader sees of a label: Mermaid keeps `#name;` entities as placeholders while parsing and
// turns them into HTML entities when it renders (its decodeEntities, not exported: ﬂ°° → &#, ﬂ° → &,
// ¶ß → ;); the browser then decodes the HTML, here jsdom's HTML parser.
function shown(label) {
  const html = label.replace(/ﬂ°°/g, "&#").replace(/ﬂ°/g, "&").replace(/¶ß/g, ";");
  const div = dom.window.document.createElement("div");
  div.innerHTML = html.replace(/<br\s*\/?>/g, "\n");
  return div.textContent;
}

async function parse(text) {
  await mermaid.parse(text);
  const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
  const db = diagram.db;
  const vertices = [...db.getVertices().values()].map((v) => ({ id: v.id, text: v.text, shown: shown(v.text), type: v.type ?? null }));
  const edges = db.getEdges().map((e) => ({ start: e.start, end: e.end, text: e.text, stroke: e.stroke }));
  const subgraphs = db.getSubGraphs().map((s) => ({ id: s.id, title: s.title, nodes: [...s.nodes] }));
  return { type: diagram.type, direction: db.getDirection(), vertices, edges, subgraphs };
}

const input = readFileSync(0, "utf8");
if (process.argv.includes("--many")) {
  const results = [];
  for (const text of JSON.parse(input)) {
    try {
      results.push(await parse(text));
    } catch (error) {
      results.push({ error: `${error?.message ?? error}` });
    }
  }
  process.stdout.write(JSON.stringify(results));
} else {
  try {
    process.stdout.write(JSON.stringify(await parse(input)));
  } catch (error) {
    process.stderr.write(`${error?.message ?? error}\n`);
    process.exit(1);
  }
}
