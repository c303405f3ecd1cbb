/**
 * One renderer for every systemd unit, timer and drop-in the nodes get: sections in order, one
 * `Key=value` line per entry (arrays repeat the key, as systemd does for ExecStartPre and friends).
 */

/** Values of one section; an array repeats the key, `undefined` drops it. */
export type SystemdSection = Readonly<Record<string, string | number | readonly string[] | undefined>>;

/** A unit file: `[Unit]`, then `[Service]` or `[Timer]`, then `[Install]`. */
export interface SystemdUnitFile {
  readonly unit?: SystemdSection;
  readonly service?: SystemdSection;
  readonly timer?: SystemdSection;
  readonly install?: SystemdSection;
}

/** Renders a unit file. */
export function renderSystemdUnit(file: SystemdUnitFile): string {
  const sections: Array<[string, SystemdSection | undefined]> = [
    ["Unit", file.unit],
    ["Service", file.service],
    ["Timer", file.timer],
    ["Install", file.install],
  ];
  const blocks = sections
    .filter((entry): entry is [string, SystemdSection] => entry[1] !== undefined)
    .map(([name, values]) => {
      const lines = Object.entries(values).flatMap(([key, value]) => {
        if (value === undefined) return [];
        return (Array.isArray(value) ? value : [value]).map((v) => `${key}=${v}`);
      });
      return [`[${name}]`, ...lines].join("\n");
    });
  return `${blocks.join("\n\n")}\n`;
}

/**
 * A oneshot service that logs to the journal and is wanted by multi-user.target. Hard
 * preconditions go in `requires` (each also ordered `after`): a failed precondition then fails
 * this unit's start job ("Dependency failed") instead of running it half-configured; `wants` is
 * for what may fail without harm. The service must never issue a blocking start job
 * (`systemctl start`, `enable --now`) for a unit ordered after it: the two jobs would wait for
 * each other forever.
 */
export function renderOneshotService(input: {
  readonly description: string;
  readonly execStart: string;
  readonly after?: readonly string[];
  readonly wants?: readonly string[];
  readonly requires?: readonly string[];
  /** Units that must already be active: this unit fails instead of starting them (`Requisite=`). */
  readonly requisite?: readonly string[];
  readonly before?: readonly string[];
  readonly remainAfterExit?: boolean;
  readonly timeoutStartSeconds?: number;
  readonly install?: boolean;
}): string {
  const join = (units?: readonly string[]) => (units && units.length > 0 ? units.join(" ") : undefined);
  return renderSystemdUnit({
    unit: { Description: input.description, Wants: join(input.wants), Requires: join(input.requires), Requisite: join(input.requisite), After: join(input.after), Before: join(input.before) },
    service: {
      Type: "oneshot",
      RemainAfterExit: input.remainAfterExit ? "yes" : undefined,
      ExecStart: input.execStart,
      TimeoutStartSec: input.timeoutStartSeconds,
      StandardOutput: "journal",
      StandardError: "journal",
    },
    install: input.install === false ? undefined : { WantedBy: "multi-user.target" },
  });
}

/**
 * A timer running its service `everyMinutes` after boot and after each run. `unit` names the
 * service when it is not the timer's namesake.
 */
export function renderTimer(input: {
  readonly description: string;
  readonly onBootMinutes: number;
  readonly everyMinutes: number;
  readonly randomizedDelaySeconds?: number;
  readonly unit?: string;
}): string {
  return renderSystemdUnit({
    unit: { Description: input.description },
    timer: {
      Unit: input.unit,
      OnBootSec: `${input.onBootMinutes}min`,
      OnUnitActiveSec: `${input.everyMinutes}min`,
      RandomizedDelaySec: input.randomizedDelaySeconds !== undefined ? `${input.randomizedDelaySeconds}s` : undefined,
      AccuracySec: "10s",
    },
    install: { WantedBy: "timers.target" },
  });
}
