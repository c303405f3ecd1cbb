/**
 * Issue 18 finding 8: what `terraform destroy` and a careless prop change may not take away. The
 * cluster key and the secrets-encryption key secret are the only way to read etcd snapshots and
 * Secrets: both refuse destruction (prevent_destroy), the key with KMS's longest deletion window
 * (30 days, the maximum of 7-30 in KMS's ScheduleKeyDeletion), the secret with Secrets Manager's
 * longest recovery window (30 days, the maximum of 7-30 in DeleteSecret). The backup bucket's
 * protection is a prop, and switching backups off needs an explicit acknowledgement.
 */
import { HaControlPlane, HaControlPlaneProps } from "../../lib/control-plane";
import { SynthJson, resources, synth } from "../helpers/synth";
import { BadInput, REFERENCE_PROPS, expectConfigError, scope } from "../validation/config-error";

const build = (overrides: Partial<HaControlPlaneProps> = {}): SynthJson => synth((s) => new HaControlPlane(s, "ControlPlane", { ...REFERENCE_PROPS, ...overrides }));
const encryptionKeySecret = (json: SynthJson) => resources(json, "aws_secretsmanager_secret").find((s) => String(s.props.name).endsWith("/control-plane/encryption-key"))!;
const backupBucket = (json: SynthJson) => resources(json, "aws_s3_bucket").find((b) => b.props.object_lock_enabled === true)!;

describe("teardown guards", () => {
  const json = build();

  it("refuses to destroy the cluster key and keeps a deleted key 30 days", () => {
    const [key] = resources(json, "aws_kms_key");
    expect(key.props.deletion_window_in_days).toBe(30);
    expect(key.props.lifecycle).toEqual({ prevent_destroy: true });
  });

  it("refuses to destroy the secrets-encryption key secret and keeps a deleted one 30 days", () => {
    const secret = encryptionKeySecret(json);
    expect(secret.props.recovery_window_in_days).toBe(30);
    expect(secret.props.lifecycle).toEqual({ prevent_destroy: true });
  });

  it("protects the backup bucket by default, and lets protectEtcdBackupBucket: false switch it off", () => {
    expect(backupBucket(json).props.lifecycle).toEqual({ prevent_destroy: true });
    expect(backupBucket(build({ protectEtcdBackupBucket: true })).props.lifecycle).toEqual({ prevent_destroy: true });
    expect(backupBucket(build({ protectEtcdBackupBucket: false })).props.lifecycle).toBeUndefined();
  });

  it("refuses etcdBackups: false without allowBackupRemoval, naming the risk", () => {
    const row: BadInput<Partial<HaControlPlaneProps>> = { title: "", props: { etcdBackups: false }, prop: "etcdBackups", value: false, fix: /allowBackupRemoval: true/ };
    const err = expectConfigError(() => new HaControlPlane(scope(), "ControlPlane", { ...REFERENCE_PROPS, ...row.props }), row);
    expect(err.message).toMatch(/deletes the backup bucket's policy, encryption/);
    expect(err.message).toMatch(/no restore point/);
  });

  it("accepts etcdBackups: false with allowBackupRemoval: true (no backup bucket)", () => {
    const off = build({ etcdBackups: false, allowBackupRemoval: true });
    expect(resources(off, "aws_s3_bucket").filter((b) => b.props.object_lock_enabled === true)).toEqual([]);
  });

  it("refuses protectEtcdBackupBucket without backups", () => {
    const row: BadInput<Partial<HaControlPlaneProps>> = { title: "", props: { etcdBackups: false, allowBackupRemoval: true, protectEtcdBackupBucket: false }, prop: "protectEtcdBackupBucket", value: false };
    expectConfigError(() => new HaControlPlane(scope(), "ControlPlane", { ...REFERENCE_PROPS, ...row.props }), row);
  });
});
