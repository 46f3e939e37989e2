import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Agent → node reports (`POST <node>/zstack/asyncrest/sendcommand`, header `commandpath`) are signed
 * with the agent's own token, so nobody but the agent the node deployed can report a VM Stopped or a
 * download finished. The token never travels: the agent sends who it is (the uuid it was connected as:
 * a host's or a backup storage's), the time, and an HMAC-SHA256 over the command path, that uuid, the
 * time and the exact body bytes. A report older or newer than `REPORT_MAX_SKEW_MS` is refused, which
 * bounds how long a captured report can be replayed.
 */
export const REPORT_AGENT_UUID_HEADER = 'x-strato-agent-uuid';
export const REPORT_DATE_HEADER = 'x-strato-agent-date';
export const REPORT_SIGNATURE_HEADER = 'x-strato-agent-signature';
export const REPORT_MAX_SKEW_MS = 5 * 60_000;

function mac(token: string, commandPath: string, agentUuid: string, date: string, body: string): string {
  return createHmac('sha256', token).update(`${commandPath}\n${agentUuid}\n${date}\n`).update(body).digest('hex');
}

/**
 * The headers that sign one report. `body` is the exact text POSTed.
 *
 * @example
 *   const body = JSON.stringify({ hostUuid, vmUuid, vmState: 'Stopped' });
 *   fetch(url, { method: 'POST', body, headers: { commandpath: p, ...signReport({ token, agentUuid: hostUuid, commandPath: p, body }) } });
 */
export function signReport(r: { token: string; agentUuid: string; commandPath: string; body: string; now?: number }): Record<string, string> {
  const date = String(r.now ?? Date.now());
  return { [REPORT_AGENT_UUID_HEADER]: r.agentUuid, [REPORT_DATE_HEADER]: date, [REPORT_SIGNATURE_HEADER]: mac(r.token, r.commandPath, r.agentUuid, date, r.body) };
}

export type ReportVerdict = { ok: true; agentUuid: string } | { ok: false; reason: string };

/**
 * Checks a report's signature against the token the node keeps for the agent it names
 * (`tokenOf` answers undefined for a uuid it does not know). Never throws on bad input.
 */
export async function verifyReport(r: {
  headers: Record<string, string | string[] | undefined>;
  commandPath: string;
  body: string;
  tokenOf: (agentUuid: string) => Promise<string | undefined>;
  now?: number;
}): Promise<ReportVerdict> {
  const h = (name: string) => {
    const v = r.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const agentUuid = h(REPORT_AGENT_UUID_HEADER);
  const date = h(REPORT_DATE_HEADER);
  const signature = h(REPORT_SIGNATURE_HEADER);
  if (!agentUuid || !date || !signature) return { ok: false, reason: `unsigned (no ${REPORT_AGENT_UUID_HEADER}, ${REPORT_DATE_HEADER} or ${REPORT_SIGNATURE_HEADER} header)` };
  if (!/^[0-9a-f]{32}$/.test(agentUuid)) return { ok: false, reason: `[${agentUuid.slice(0, 64)}] is not an agent uuid` };
  const at = Number(date);
  if (!Number.isFinite(at) || Math.abs((r.now ?? Date.now()) - at) > REPORT_MAX_SKEW_MS) return { ok: false, reason: `date ${date.slice(0, 32)} is not within ${REPORT_MAX_SKEW_MS / 1000} s of the node's clock` };
  const token = await r.tokenOf(agentUuid);
  if (!token) return { ok: false, reason: `no agent known as ${agentUuid}` };
  const want = Buffer.from(mac(token, r.commandPath, agentUuid, date, r.body), 'hex');
  const got = Buffer.from(/^[0-9a-f]{64}$/.test(signature) ? signature : '', 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, reason: `bad signature for agent ${agentUuid}` };
  return { ok: true, agentUuid };
}
