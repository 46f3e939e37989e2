import type { AgentHttpReply, AgentRequest, AgentTransport } from './agent-protocol.ts';

/** Real agents (and the HTTP simulator): a JSON POST; the agent calls back over HTTP on its own. */
export class HttpAgentTransport implements AgentTransport {
  async post(req: AgentRequest): Promise<AgentHttpReply> {
    const res = await fetch(req.url, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8', ...req.headers }, body: JSON.stringify(req.body ?? {}), signal: req.signal });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      /* a refusal may be plain text */
    }
    return { status: res.status, body };
  }
}
