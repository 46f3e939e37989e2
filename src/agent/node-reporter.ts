import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { signReport } from '../core/agent/index.ts';
import { writeFileAtomic } from './files.ts';
import type { AgentMetrics } from './metrics.ts';

/** What `/host/connect` told the agent: which host it is and where to report. Kept on disk for restarts. */
export interface NodeLink {
  hostUuid?: string;
  sendCommandUrl?: string;
}

/**
 * Reports the agent makes unprompted (ZStack's "sendcommand"): `POST <sendCommandUrl>` with header
 * `commandpath`, signed with the agent's token as the uuid it was connected as (the node refuses
 * anything else: core/agent/report-signature.ts). A report the node cannot take is logged and dropped:
 * the node reconciles anyway through `/vm/vmsync` and pings, so a lost report delays a correction but
 * never loses one.
 */
export class NodeReporter {
  #link: NodeLink;
  readonly #file: string;

  constructor(dataDir: string, private readonly token: string, private readonly log: Logger, private readonly metrics: AgentMetrics) {
    this.#file = join(dataDir, 'node-link.json');
    this.#link = existsSync(this.#file) ? (JSON.parse(readFileSync(this.#file, 'utf8')) as NodeLink) : {};
  }

  get link(): NodeLink {
    return { ...this.#link };
  }

  update(link: NodeLink): void {
    this.#link = { ...this.#link, ...link };
    writeFileAtomic(this.#file, JSON.stringify(this.#link));
  }

  /** The signature headers of a report whose exact text is `body`; none before the node connected this agent. */
  sign(commandPath: string, body: string): Record<string, string> {
    const agentUuid = this.#link.hostUuid;
    return agentUuid ? signReport({ token: this.token, agentUuid, commandPath, body }) : {};
  }

  async report(commandPath: string, body: Record<string, unknown>): Promise<boolean> {
    const url = this.#link.sendCommandUrl;
    if (!url) {
      this.log.info({ commandPath, body }, 'no management node known yet; report not sent');
      return false;
    }
    try {
      const text = JSON.stringify({ hostUuid: this.#link.hostUuid, ...body });
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', commandpath: commandPath, ...this.sign(commandPath, text) }, body: text, signal: AbortSignal.timeout(30_000) });
      await res.body?.cancel();
      this.metrics.reports.inc({ commandpath: commandPath, outcome: res.ok ? 'ok' : 'refused' });
      if (!res.ok) this.log.warn({ commandPath, status: res.status }, 'the management node refused a report');
      return res.ok;
    } catch (e) {
      this.metrics.reports.inc({ commandpath: commandPath, outcome: 'unreachable' });
      this.log.warn({ commandPath, err: e instanceof Error ? e.message : String(e) }, 'could not reach the management node to report');
      return false;
    }
  }
}
