/**
 * An instance metadata stand-in for the node scripts' `imds_region` (lib/bootstrap/scripts's
 * imds-region.sh include): IMDSv2's token exchange (PUT /latest/api/token with a TTL header) and
 * GET /latest/meta-data/placement/region with that token, nothing else (400, 401 or 404 as IMDS
 * answers them). Each request is recorded as "METHOD path status".
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const SERVER = [
  "import http.server, sys",
  "class H(http.server.BaseHTTPRequestHandler):",
  "    def answer(self, code, body=b''):",
  "        self.send_response(code); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)",
  "        print(self.command, self.path, code, flush=True)",
  "    def do_PUT(self):",
  "        ok = self.path == '/latest/api/token' and self.headers.get('X-aws-ec2-metadata-token-ttl-seconds') is not None",
  "        self.answer(200, b'token-1') if ok else self.answer(400)",
  "    def do_GET(self):",
  "        if self.headers.get('X-aws-ec2-metadata-token') != 'token-1': return self.answer(401)",
  "        self.answer(200, sys.argv[2].encode()) if self.path == '/latest/meta-data/placement/region' else self.answer(404)",
  "    def log_message(self, *args): pass",
  "s = http.server.HTTPServer((sys.argv[1], 0), H)",
  "print(s.server_port, flush=True)",
  "s.serve_forever()",
].join("\n");

/** A running stand-in. */
export interface ImdsRegionStandIn {
  /** Its endpoint, for AWS_EC2_METADATA_SERVICE_ENDPOINT. */
  readonly endpoint: string;
  /** The requests answered so far, as "METHOD path status". */
  requests(): string[];
  /** Kills it. */
  stop(): void;
}

/**
 * Starts the stand-in on `host` (a free port) answering `region`; with `netns`, inside that network
 * namespace (`ip netns exec`).
 */
export async function startImdsRegionStandIn(host: string, region: string, netns?: string): Promise<ImdsRegionStandIn> {
  const argv = ["python3", "-c", SERVER, host, region];
  const child = netns === undefined ? spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "inherit"] }) : spawn("ip", ["netns", "exec", netns, ...argv], { stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  try {
    const port = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on("line", (l) => {
        lines.push(l);
        if (lines.length === 1) resolve(l);
      });
      child.once("exit", (code) => reject(new Error(`metadata stand-in exited ${code}`)));
    });
    return { endpoint: `http://${host}:${port}`, requests: () => lines.slice(1), stop: () => child.kill("SIGKILL") };
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
}
