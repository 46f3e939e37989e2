import type { FastifyInstance } from 'fastify';
import { observerPoint } from '../core/plugin/index.ts';

/**
 * Routes a module serves beside the REST API on the node's HTTP server (the VM console's page and
 * websocket). `mount` runs once, before the server listens; routes outside `/zstack/v1` only.
 */
export interface HttpRoutes {
  mount(app: FastifyInstance): void | Promise<void>;
}

export const HttpRoutesPoint = observerPoint<HttpRoutes>('node.httpRoutes');
