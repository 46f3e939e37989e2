import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The agent's Prometheus metrics, served at `GET /metrics` (no token: scraped like node_exporter). */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly commands = new Counter({ name: 'strato_agent_commands_total', help: 'commands received, by path and outcome', labelNames: ['path', 'outcome'] as const, registers: [this.registry] });
  readonly commandSeconds = new Histogram({ name: 'strato_agent_command_seconds', help: 'time to execute a command, by path', labelNames: ['path'] as const, buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300], registers: [this.registry] });
  readonly refused = new Counter({ name: 'strato_agent_refused_total', help: 'requests refused for a missing or wrong token', registers: [this.registry] });
  readonly reports = new Counter({ name: 'strato_agent_reports_total', help: 'reports sent to the management node, by command path and outcome', labelNames: ['commandpath', 'outcome'] as const, registers: [this.registry] });
  readonly vms = new Gauge({ name: 'strato_agent_vms', help: 'VMs (QEMU processes) this agent supervises, by state', labelNames: ['state'] as const, registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'strato_agent_' });
  }
}
