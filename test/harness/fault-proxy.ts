/**
 * A fault-injection proxy in front of the AWS emulator, for answers moto never gives on its own
 * (throttling, AccessDenied) or gives at the wrong moment (a read racing another node's write).
 *
 * Strict by construction: a request no armed fault matches is forwarded byte for byte (method,
 * path, headers, body) and the emulator's answer is returned unchanged (status, headers, body). An
 * injected answer is what AWS's JSON-1.1 services send for an error: HTTP 400 with
 * `x-amzn-ErrorType` and a `{"__type","message"}` body, which the AWS CLI turns into
 * `An error occurred (<code>) when calling the <operation> operation: <message>`.
 */
import { IncomingMessage, ServerResponse, createServer, request } from "node:http";
import { AddressInfo } from "node:net";

/** One armed fault. */
export interface Fault {
  /** The operation, as in the `X-Amz-Target` header: `secretsmanager.GetSecretValue`. */
  readonly target: string;
  /** Error code: `ThrottlingException`, `AccessDeniedException`, `ResourceNotFoundException`. */
  readonly code: string;
  /** How many matching requests get the fault (then it is spent). */
  readonly times: number;
  /** Only requests whose body contains this text (e.g. `"VersionStage": "AWSCURRENT"`). */
  readonly bodyContains?: string;
  /** HTTP status. @default 400 */
  readonly status?: number;
}

/**
 * One armed answer: a successful reply moto never gives (an SSM command invocation that Failed or
 * is still InProgress), sent as AWS sends it (HTTP 200, `application/x-amz-json-1.1`, the body).
 */
export interface Answer {
  /** The operation, as in the `X-Amz-Target` header: `AmazonSSM.GetCommandInvocation`. */
  readonly target: string;
  /** The response body (the operation's output shape, as the AWS API reference gives it). */
  readonly body: Record<string, unknown>;
  /** How many matching requests get it (then it is spent). */
  readonly times: number;
  /** Only requests whose body contains this text (e.g. an instance id). */
  readonly bodyContains?: string;
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: point `AWS_ENDPOINT_URL` here. */
  readonly endpoint: string;
  /** Arms a fault. */
  inject(fault: Fault): void;
  /** Arms an answer (logged as injected `answer`). */
  answer(answer: Answer): void;
  /** Disarms every fault. */
  clear(): void;
  /** Operations seen, in order, with whether each was injected, when it arrived (ms since the epoch) and its request body. */
  readonly log: { target: string; injected?: string; at: number; body: string }[];
  /** Stops the proxy. */
  stop(): Promise<void>;
}

/** Starts the proxy on a free loopback port, forwarding to `upstream` (`http://127.0.0.1:<port>`). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const armed: { fault: Fault; left: number }[] = [];
  const answers: { answer: Answer; left: number }[] = [];
  const log: { target: string; injected?: string; at: number; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const text = body.toString("utf8");
      const op = String(req.headers["x-amz-target"] ?? "");
      const hit = armed.find((a) => a.left > 0 && a.fault.target === op && (a.fault.bodyContains === undefined || text.includes(a.fault.bodyContains)));
      if (hit) {
        hit.left--;
        log.push({ target: op, injected: hit.fault.code, at: Date.now(), body: text });
        const payload = JSON.stringify({ __type: hit.fault.code, message: `injected ${hit.fault.code}` });
        res.writeHead(hit.fault.status ?? 400, { "content-type": "application/x-amz-json-1.1", "x-amzn-errortype": hit.fault.code, "content-length": Buffer.byteLength(payload) });
        res.end(payload);
        return;
      }
      const reply = answers.find((a) => a.left > 0 && a.answer.target === op && (a.answer.bodyContains === undefined || text.includes(a.answer.bodyContains)));
      if (reply) {
        reply.left--;
        log.push({ target: op, injected: "answer", at: Date.now(), body: text });
        const payload = JSON.stringify(reply.answer.body);
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1", "content-length": Buffer.byteLength(payload) });
        res.end(payload);
        return;
      }
      log.push({ target: op, at: Date.now(), body: text });
      const forward = request(
        { hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      forward.on("error", (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    inject(fault: Fault) {
      if (!Number.isInteger(fault.times) || fault.times < 1) throw new Error(`fault.times must be a positive integer, got ${fault.times}`);
      armed.push({ fault, left: fault.times });
    },
    answer(answer: Answer) {
      if (!Number.isInteger(answer.times) || answer.times < 1) throw new Error(`answer.times must be a positive integer, got ${answer.times}`);
      answers.push({ answer, left: answer.times });
    },
    clear() {
      armed.length = 0;
      answers.length = 0;
    },
    log,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
