/**
 * Auto Scaling's CompleteLifecycleAction in front of the AWS emulator. moto stores lifecycle hooks
 * (PutLifecycleHook, DescribeLifecycleHooks) but does not implement CompleteLifecycleAction and
 * never holds an instance in Pending:Wait, so this proxy answers that one operation from moto's
 * state, as strictly as the API reference describes it (autoscaling 2011-01-01, query protocol):
 * - the request must be SigV4-signed for the `autoscaling` service in the expected region;
 * - AutoScalingGroupName, LifecycleHookName (`[A-Za-z0-9\-_\/]+`, 1–255) and
 *   LifecycleActionResult (`CONTINUE` or `ABANDON`) are required, with InstanceId (or a token);
 * - the group and the hook must exist in moto, the hook on that group, and the instance must be
 *   one of the group's instances;
 * - there must be an active lifecycle action for the instance: the test holds an instance in
 *   Pending:Wait with {@link LifecycleActions.hold}; one completion ends it (a second one gets
 *   AWS's `ValidationError: No active Lifecycle Action found with instance ID ...`).
 * Every other request is forwarded byte for byte and moto's answer returned unchanged.
 */
import { IncomingMessage, ServerResponse, createServer, request } from "node:http";
import { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { xmlValues } from "./aws-emulator";

/** One accepted completion. */
export interface Completion {
  readonly group: string;
  readonly hook: string;
  readonly instanceId: string;
  readonly result: string;
}

/** A running stand-in. */
export interface LifecycleActions {
  /** `http://127.0.0.1:<port>`: point `AWS_ENDPOINT_URL` here. */
  readonly endpoint: string;
  /** Puts `instanceId` of `group` into Pending:Wait for `hook` (an active lifecycle action). */
  hold(group: string, hook: string, instanceId: string): void;
  /** Accepted completions, in order. */
  readonly completions: readonly Completion[];
  /** Refused CompleteLifecycleAction calls, as `<code>: <message>`. */
  readonly refusals: readonly string[];
  stop(): Promise<void>;
}

const NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/** Starts the stand-in on a free loopback port in front of moto at `upstream`, for `region`. */
export async function startLifecycleActions(upstream: string, region: string): Promise<LifecycleActions> {
  const target = new URL(upstream);
  const active = new Set<string>();
  const completions: Completion[] = [];
  const refusals: string[] = [];
  const key = (group: string, hook: string, instance: string) => `${group}\u0000${hook}\u0000${instance}`;

  function forward(req: IncomingMessage, body: Buffer): Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      up.on("error", reject);
      up.end(body);
    });
  }

  async function moto(params: Record<string, string>): Promise<string> {
    const res = await fetch(upstream, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20250101/${region}/autoscaling/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: new URLSearchParams({ Version: "2011-01-01", ...params }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`moto ${params.Action} answered ${res.status}: ${text.slice(0, 300)}`);
    return text;
  }

  /** The refusal AWS would give, or undefined when the completion is valid. */
  async function check(req: IncomingMessage, p: URLSearchParams): Promise<{ status: number; code: string; message: string } | undefined> {
    const auth = String(req.headers.authorization ?? "");
    const scope = /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request,/.exec(auth);
    if (!scope) return { status: 403, code: "MissingAuthenticationToken", message: "Request is missing Authentication Token" };
    if (scope[1] !== region || scope[2] !== "autoscaling") return { status: 403, code: "SignatureDoesNotMatch", message: `Credential should be scoped to a valid region and service 'autoscaling' in ${region}` };
    const group = p.get("AutoScalingGroupName");
    const hook = p.get("LifecycleHookName");
    const result = p.get("LifecycleActionResult");
    const instance = p.get("InstanceId");
    for (const [name, v] of [["AutoScalingGroupName", group], ["LifecycleHookName", hook], ["LifecycleActionResult", result]] as const) {
      if (v === null || v.length === 0) return { status: 400, code: "ValidationError", message: `1 validation error detected: Value null at '${name}' failed to satisfy constraint: Member must not be null` };
    }
    if (!/^[A-Za-z0-9\-_/]{1,255}$/.test(hook!)) return { status: 400, code: "ValidationError", message: `Value '${hook}' at 'lifecycleHookName' failed to satisfy constraint` };
    if (result !== "CONTINUE" && result !== "ABANDON") return { status: 400, code: "ValidationError", message: `Invalid LifecycleActionResult: ${result}` };
    if (instance === null) return { status: 400, code: "ValidationError", message: "Either InstanceId or LifecycleActionToken must be specified" };
    const groups = await moto({ Action: "DescribeAutoScalingGroups", "AutoScalingGroupNames.member.1": group! });
    if (!xmlValues(groups, "AutoScalingGroupName").includes(group!)) return { status: 400, code: "ValidationError", message: `Group ${group} not found` };
    const hooks = xmlMembers(await moto({ Action: "DescribeLifecycleHooks", AutoScalingGroupName: group! }), "LifecycleHooks");
    const found = hooks.find((h) => xmlValues(h, "LifecycleHookName")[0] === hook);
    if (found === undefined || xmlValues(found, "AutoScalingGroupName")[0] !== group || xmlValues(found, "LifecycleTransition")[0] !== "autoscaling:EC2_INSTANCE_LAUNCHING") return { status: 400, code: "ValidationError", message: `No Lifecycle Hook found with name ${hook} for group ${group}` };
    if (!xmlValues(groups, "InstanceId").includes(instance) || !active.has(key(group!, hook!, instance))) {
      return { status: 400, code: "ValidationError", message: `No active Lifecycle Action found with instance ID ${instance}` };
    }
    return undefined;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const p = new URLSearchParams(body.toString("utf8"));
        if (p.get("Action") !== "CompleteLifecycleAction") {
          const up = await forward(req, body);
          res.writeHead(up.status, up.headers);
          res.end(up.body);
          return;
        }
        const refusal = await check(req, p);
        const requestId = randomUUID();
        if (refusal !== undefined) {
          refusals.push(`${refusal.code}: ${refusal.message}`);
          const xml = `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${refusal.code}</Code><Message>${refusal.message}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
          res.writeHead(refusal.status, { "content-type": "text/xml", "content-length": Buffer.byteLength(xml) });
          res.end(xml);
          return;
        }
        const done: Completion = { group: p.get("AutoScalingGroupName")!, hook: p.get("LifecycleHookName")!, instanceId: p.get("InstanceId")!, result: p.get("LifecycleActionResult")! };
        active.delete(key(done.group, done.hook, done.instanceId));
        completions.push(done);
        const xml = `<CompleteLifecycleActionResponse xmlns="${NS}"><CompleteLifecycleActionResult/><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>`;
        res.writeHead(200, { "content-type": "text/xml", "content-length": Buffer.byteLength(xml) });
        res.end(xml);
      })().catch((e: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" });
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hold(group, hook, instanceId) {
      active.add(key(group, hook, instanceId));
    },
    completions,
    refusals,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The `<member>` blocks directly under `<set>` (Auto Scaling's query XML lists use `member`). */
function xmlMembers(xml: string, set: string): string[] {
  const start = xml.indexOf(`<${set}>`);
  const end = xml.indexOf(`</${set}>`, start);
  if (start < 0 || end < 0) return [];
  return [...xml.slice(start, end).matchAll(/<member>([\s\S]*?)<\/member>/g)].map((m) => m[1]);
}
