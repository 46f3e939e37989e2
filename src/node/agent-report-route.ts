import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AgentTokenResolverPoint } from '../contracts/agent-report.ts';
import { AGENT_SEND_COMMAND_PATH, AgentCommandPoint } from '../contracts/vm.ts';
import { REPORT_DATE_HEADER, REPORT_MAX_SKEW_MS, REPORT_SIGNATURE_HEADER, verifyReport } from '../core/agent/index.ts';
import { toErrorCode } from '../core/errors/index.ts';
import type { ExtensionRegistry } from '../core/plugin/index.ts';

/**
 * What agents report unprompted (ZStack's sendcommand, `commandpath: /kvm/reportvmstate`): served by
 * whoever registered the path on AgentCommandPoint, but only once the report's signature checks out
 * against the token of the agent it names (core/agent/report-signature.ts). A refused report is
 * answered 401, logged, and reaches no handler. A body naming a `hostUuid` other than the signer's
 * is refused too, and one naming none is taken as the signer's: a host may only speak for itself.
 * The same signed report is taken once (no replays while its date is within the accepted skew).
 */
/** Signatures remembered against replays: reports of the last REPORT_MAX_SKEW_MS, at most this many. */
const MAX_REMEMBERED = 200_000;

export async function registerAgentReportRoute(app: FastifyInstance, deps: { extensions: ExtensionRegistry; log: Logger }): Promise<void> {
  const tokenOf = async (uuid: string) => {
    for (const r of deps.extensions.observers(AgentTokenResolverPoint)) {
      const token = await r.tokenOf(uuid);
      if (token) return token;
    }
    return undefined;
  };
  // A report captured on the wire (plain HTTP) could be sent again while its date is still accepted:
  // each signature is taken once by this node within that window (bounded; the oldest go first).
  const seen = new Map<string, number>();
  const firstTime = (signature: string, date: number): boolean => {
    const now = Date.now();
    for (const [sig, until] of seen) {
      if (until > now && seen.size < MAX_REMEMBERED) break;
      seen.delete(sig);
    }
    if (seen.has(signature)) return false;
    seen.set(signature, date + REPORT_MAX_SKEW_MS);
    return true;
  };
  // Its own scope: the signature covers the exact bytes sent, so this route takes the body unparsed.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, String(body)));
    scope.post(AGENT_SEND_COMMAND_PATH, async (req, reply) => {
      const commandPath = String(req.headers.commandpath ?? '');
      const raw = typeof req.body === 'string' ? req.body : '';
      const refuse = (reason: string) => {
        deps.log.warn({ commandPath, from: req.ip, reason }, 'refused an agent report');
        return reply.code(401).send({ success: false, error: `report refused: ${reason}` });
      };
      const verdict = await verifyReport({ headers: req.headers, commandPath, body: raw, tokenOf });
      if (!verdict.ok) return refuse(verdict.reason);
      if (!firstTime(String(req.headers[REPORT_SIGNATURE_HEADER]), Number(req.headers[REPORT_DATE_HEADER]))) return refuse(`a replay of a report already taken (agent ${verdict.agentUuid})`);
      let body: Record<string, unknown>;
      try {
        const parsed: unknown = raw.trim() ? JSON.parse(raw) : {};
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        body = parsed as Record<string, unknown>;
      } catch {
        return reply.code(400).send({ success: false, error: 'the report body is not a JSON object' });
      }
      if (body.hostUuid !== undefined && body.hostUuid !== verdict.agentUuid) return refuse(`signed by ${verdict.agentUuid} but reports for host ${String(body.hostUuid)}`);
      // A report that names no host is the signer's too: a handler reading hostUuid never sees another's (or none).
      body.hostUuid = verdict.agentUuid;
      const handler = deps.extensions.findStrategy(AgentCommandPoint, commandPath);
      if (!handler) return reply.code(404).send({ success: false, error: `no handler for commandpath ${commandPath}` });
      try {
        return reply.send({ success: true, ...((await handler.handle(body)) ?? {}) });
      } catch (e) {
        return reply.code(500).send({ success: false, error: toErrorCode(e) });
      }
    });
  });
}
