/**
 * The wire contract between a management node and its agents (ZStack's RESTFacade, reference §9):
 * the node POSTs a JSON command to `<agent base url><path>` with the headers below; a synchronous
 * command is answered in the HTTP reply, an asynchronous one is acknowledged at once (200, empty body)
 * and its result POSTed later to `callbackurl` with the same `taskuuid` header.
 */

/** Header naming the task; echoed on the callback. */
export const TASK_UUID_HEADER = 'taskuuid';
/** Header carrying where the agent POSTs the result of an asynchronous command. */
export const CALLBACK_URL_HEADER = 'callbackurl';
/** Header set by an agent on a callback when its handler raised (ZStack's agents send the traceback). */
export const CALLBACK_ERROR_HEADER = 'error';
/** The per-host token issued when the agent was deployed: agents refuse commands without it. */
export const AGENT_TOKEN_HEADER = 'x-strato-agent-token';
/** Where a management node receives the results of asynchronous commands. */
export const AGENT_CALLBACK_PATH = '/zstack/asyncrest/callback';

/** Every agent response extends this (ZStack's AgentResponse). */
export interface AgentResponse {
  success: boolean;
  error?: string;
  [key: string]: unknown;
}

/**
 * Where an agent listens and how to prove to it who we are. `url` is `http://ip:port[/prefix]` for a
 * real or HTTP-simulated agent, `inproc://<address>` for an agent living in this process.
 */
export interface AgentEndpoint {
  url: string;
  token: string;
}

/** A command as a transport sends it. */
export interface AgentRequest {
  url: string;
  body: unknown;
  headers: Record<string, string>;
  signal: AbortSignal;
}

/** The immediate HTTP answer: the result of a sync command, an acknowledgement of an async one. */
export interface AgentHttpReply {
  status: number;
  body: unknown;
}

/** How an in-process agent hands a result back without HTTP. */
export type DeliverCallback = (headers: Record<string, string>, body: unknown) => void;

/** Moves a command to an agent. HTTP agents call back over HTTP; in-process agents use `deliver`. */
export interface AgentTransport {
  post(req: AgentRequest, deliver: DeliverCallback): Promise<AgentHttpReply>;
}

/** Errors of agent calls (transport or command), in ZStack's ErrorCode shape. */
export const AgentErrors = {
  UNREACHABLE: { code: 'AGENT.1000', description: 'The agent could not be reached' },
  REFUSED: { code: 'AGENT.1001', description: 'The agent refused the command' },
  COMMAND_FAILED: { code: 'AGENT.1002', description: 'The agent failed to execute the command' },
} as const;
