/**
 * Issue 18 finding 1: the API server group's launch lifecycle hook and the node's permission to
 * complete it. The IAM evaluator (test/helpers/iam-eval.ts, AWS's documented evaluation logic)
 * decides the completion statement against ARNs written out in AWS's format for Auto Scaling
 * groups (`arn:aws:autoscaling:<region>:<account>:autoScalingGroup:<uuid>:autoScalingGroupName/<name>`).
 */
import { HaClusterStack } from "../../examples/ha-cluster/main";
import { Testing } from "../../lib/core";
import { PolicyDocument, evaluate } from "../helpers/iam-eval";
import { follow, resources, synthStack } from "../helpers/synth";

const json = synthStack(new HaClusterStack(Testing.app(), "ref"));
const groupArn = (name: string) => `arn:aws:autoscaling:eu-west-1:111122223333:autoScalingGroup:5f0f1a6e-1111-4a4a-9c9c-0123456789ab:autoScalingGroupName/${name}`;

describe("API server launch lifecycle hook", () => {
  const hooks = resources(json, "aws_autoscaling_lifecycle_hook");

  it("holds every launching API server until it completes the hook, abandoning it on timeout", () => {
    expect(hooks).toHaveLength(1);
    const hook = hooks[0].props;
    expect(hook.lifecycle_transition).toBe("autoscaling:EC2_INSTANCE_LAUNCHING");
    expect(hook.default_result).toBe("ABANDON");
    expect(follow(json, hook.autoscaling_group_name).props.name).toBe("prod-eu1-apiserver");
    // The heartbeat covers the boot the group's grace period allows for.
    const group = follow(json, hook.autoscaling_group_name).props;
    expect(hook.heartbeat_timeout).toBeGreaterThanOrEqual(group.health_check_grace_period);
  });

  it("lets API servers complete lifecycle actions of their own group only", () => {
    const role = resources(json, "aws_iam_role").find((r) => r.props.name === "prod-eu1-apiserver")!;
    const docs = resources(json, "aws_iam_role_policy").map((p) => ({ role: p.props.role, doc: JSON.parse(String(p.props.policy)) as PolicyDocument }));
    const statements = docs.flatMap((d) => [d.doc.Statement].flat().map((s) => ({ role: d.role, s })));
    const mentioning = statements.filter(({ s }) => JSON.stringify(s.Action ?? s.NotAction).includes("autoscaling:"));
    expect(mentioning.map(({ role: r }) => r)).toEqual([`\${aws_iam_role.${role.name}.name}`]);
    const [{ s }] = mentioning;
    // The network conditions every node statement carries are tested with the node role; here: what and where.
    const bare: PolicyDocument = { Version: "2012-10-17", Statement: [{ ...s, Condition: undefined }] };
    const can = (action: string, resource: string) => evaluate({ principalArn: "arn:aws:iam::111122223333:role/prod-eu1-apiserver", action, resource }, [bare]).allowed;
    expect(can("autoscaling:CompleteLifecycleAction", groupArn("prod-eu1-apiserver"))).toBe(true);
    expect(can("autoscaling:CompleteLifecycleAction", groupArn("prod-eu1-etcd-0"))).toBe(false);
    expect(can("autoscaling:CompleteLifecycleAction", groupArn("prod-eu1-apiserver-canary"))).toBe(false);
    expect(can("autoscaling:CompleteLifecycleAction", groupArn("other-apiserver"))).toBe(false);
    for (const action of ["autoscaling:RecordLifecycleActionHeartbeat", "autoscaling:PutLifecycleHook", "autoscaling:DeleteLifecycleHook", "autoscaling:SetInstanceHealth", "autoscaling:UpdateAutoScalingGroup"]) {
      expect(can(action, groupArn("prod-eu1-apiserver"))).toBe(false);
    }
  });

  it("gives etcd members no hook (their roll is the operator's ha-roll-etcd)", () => {
    const hooked = hooks.map((h) => follow(json, h.props.autoscaling_group_name).props.name);
    expect(hooked).toEqual(["prod-eu1-apiserver"]);
  });
});
