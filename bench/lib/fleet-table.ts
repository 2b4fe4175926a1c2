/** The agent-fleet benchmark's figures (bench/agent-fleet.ts), saved in bench/agent-fleet.json. */
export interface FleetRow {
  topology: string;
  agents: number;
  /** Mean CPU of an idle agent process over the window, % of one core. */
  idleCpuPct: number;
  idleCpuMaxPct: number;
  /** `cns serve`'s own CPU (the serve topology), % of one core. */
  serverCpuPct: number | null;
  /** Median resident memory of an idle agent process. */
  rssMb: number;
  /** PostgreSQL: committed transactions per second per idle agent (everything on the database). */
  idleTxPerSecPerAgent: number | null;
  connections: number | null;
  /** PostgreSQL: committed transactions per task handed out (create, claim, complete, wasted tries). */
  txPerTask: number | null;
  /**
   * PostgreSQL: tx per task less the background (the idle window's rate over the hand-out's
   * duration): what handing out one task costs the database. Absent in older runs.
   */
  txPerTaskMarginal?: number | null;
  wakeP50Ms: number | null;
  wakeP99Ms: number | null;
  handedOut: number;
  tasks: number;
  /** Set when the topology could not be measured (e.g. PostgreSQL refused connections). */
  error?: string;
}

export interface FleetRun {
  /** PostgreSQL's max_connections in this run (stock: 100). */
  maxConnections?: number;
  cns: string;
  at: string;
  loadBefore: number[];
  agents: number;
  windowS: number;
  tasks: number;
  rows: FleetRow[];
}

/** One run as a markdown table. */
export function fleetTable(rows: FleetRow[]): string[] {
  const f = (x: number | null, d = 2) => (x === null ? '—' : x.toFixed(d));
  return [
    '| topology | agents | idle CPU per agent (max) | cns serve CPU | agent RSS | idle tx/s per agent | connections (per agent) | tx per task (beyond the idle background) | wake p50 / p99 | handed out |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) =>
      r.error
        ? `| ${r.topology} | ${r.agents} | failed: ${r.error.replace(/\|/g, '/')} |||||||| |`
        : `| ${r.topology} | ${r.agents} | ${f(r.idleCpuPct)}% (${f(r.idleCpuMaxPct)}%) | ${r.serverCpuPct === null ? '—' : `${f(r.serverCpuPct)}%`} | ${f(r.rssMb, 0)} MB | ${f(r.idleTxPerSecPerAgent, 3)} | ${r.connections === null ? '—' : `${r.connections} (${f(r.connections / r.agents)})`} | ${f(r.txPerTask, 1)}${r.txPerTaskMarginal == null ? '' : ` (${f(r.txPerTaskMarginal, 1)})`} | ${r.wakeP50Ms === null ? 'none' : `${f(r.wakeP50Ms)} / ${f(r.wakeP99Ms)} ms`} | ${r.handedOut}/${r.tasks} |`,
    ),
  ];
}
