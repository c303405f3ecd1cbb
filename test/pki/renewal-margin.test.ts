/**
 * Issue 18 finding 3: leaf certificates re-issue well ahead of expiry, and the expiry alarm fires
 * only when that renewal did not happen. The tls provider re-issues a certificate on the first apply
 * once fewer than early_renewal_hours remain (its documented behaviour), so with 8760 h leaves and
 * 2160 h (90 days) early renewal, any deploy in a leaf's last 90 days re-issues it; one deploy every
 * 60 days lands with at least 30 days left, and an alarm at 14 days means a missed cadence, not a
 * normal renewal. The alarm and the renewal are separate props, checked against each other.
 */
import { HaControlPlane, HaControlPlaneProps } from "../../lib/control-plane";
import { SynthJson, alarmsOn, resources, synth } from "../helpers/synth";
import { BadInput, REFERENCE_PROPS, expectConfigError, scope } from "../validation/config-error";

const build = (overrides: Partial<HaControlPlaneProps> = {}): SynthJson => synth((s) => new HaControlPlane(s, "ControlPlane", { ...REFERENCE_PROPS, ...overrides }));
const HOURS_PER_DAY = 24;

describe("certificate renewal margin", () => {
  const json = build();
  const leaves = resources(json, "tls_locally_signed_cert");

  it("re-issues every leaf in its last 90 days (2160 h of 8760 h)", () => {
    expect(leaves.length).toBeGreaterThan(0);
    for (const leaf of leaves) {
      expect(leaf.props.validity_period_hours).toBe(8760);
      expect(leaf.props.early_renewal_hours).toBe(90 * HOURS_PER_DAY);
    }
  });

  it("raises the certificate-expiry alarm at 14 days, inside the renewal window's 60-day deploy cadence", () => {
    const expiry = alarmsOn(json, "CertificateDaysLeft");
    expect(expiry.length).toBeGreaterThan(0);
    for (const a of expiry) expect(a.props).toMatchObject({ threshold: 14, comparison_operator: "LessThanThreshold" });
  });

  it("sets the alarm and the renewal independently", () => {
    const j = build({ certificateExpiryAlarmDays: 21, leafCertificateEarlyRenewalHours: 60 * HOURS_PER_DAY });
    for (const leaf of resources(j, "tls_locally_signed_cert")) expect(leaf.props.early_renewal_hours).toBe(1440);
    const expiry = alarmsOn(j, "CertificateDaysLeft");
    expect(expiry.length).toBeGreaterThan(0);
    for (const a of expiry) expect(a.props.threshold).toBe(21);
  });

  const rows: BadInput<Partial<HaControlPlaneProps>>[] = [
    { title: "refuses an alarm at the renewal point (it would fire on every normal renewal)", props: { certificateExpiryAlarmDays: 90 }, prop: "certificateExpiryAlarmDays", value: 90, fix: /below 90/ },
    { title: "refuses an alarm before the renewal window opens", props: { certificateExpiryAlarmDays: 30, leafCertificateEarlyRenewalHours: 720 }, prop: "certificateExpiryAlarmDays", value: 30, fix: /below 30/ },
    { title: "refuses an alarm of 0 days", props: { certificateExpiryAlarmDays: 0 }, prop: "certificateExpiryAlarmDays", value: 0 },
  ];
  for (const row of rows) {
    it(row.title, () => {
      expectConfigError(() => new HaControlPlane(scope(), "ControlPlane", { ...REFERENCE_PROPS, ...row.props }), row);
    });
  }

  it("accepts an alarm one day inside the renewal window", () => {
    expect(() => new HaControlPlane(scope(), "ControlPlane", { ...REFERENCE_PROPS, certificateExpiryAlarmDays: 89 })).not.toThrow();
  });
});
