export * from './agent-protocol.ts';
export { AgentClient, type AgentCallOptions } from './agent-client.ts';
export { HttpAgentTransport } from './http-agent-transport.ts';
export { InProcessAgentTransport, type InProcessAgent } from './in-process-transport.ts';
export * from './report-signature.ts';
