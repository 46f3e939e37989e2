import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { StratoError } from '../errors/index.ts';
import { DeployErrors } from './deploy-errors.ts';
import { secretDir, SSH_OPTIONS, type SshLogin } from './ssh-login.ts';

export interface PlaybookRun {
  playbook: string;
  login: SshLogin;
  /** Extra variables (secrets included): written to a 0600 file, never on the command line. */
  vars: Record<string, unknown>;
  /** Tasks the play will announce, for the percentage. */
  totalTasks: number;
  onProgress?: (percent: number, task: string) => void;
  timeoutMs?: number;
}

const FAILURE = /^(?:fatal|failed): \[[^\]]*\]: (UNREACHABLE|FAILED)! => (.*)$/;

/**
 * Runs `ansible-playbook` against one host as a child process with an inventory made for it, reports
 * progress as tasks start, and turns a failure into a StratoError naming the cause: the login refused
 * (KVM.1001), the host unreachable (KVM.1002), or the task that failed and its message (KVM.1000).
 */
export async function runPlaybook(run: PlaybookRun): Promise<void> {
  const { login } = run;
  const secrets = await secretDir(login);
  try {
    const hostVars = [`ansible_host=${login.address}`, `ansible_port=${login.port}`, `ansible_user=${login.username}`, 'ansible_python_interpreter=/usr/bin/python3'];
    if (secrets.keyFile) hostVars.push(`ansible_ssh_private_key_file=${secrets.keyFile}`);
    const inventory = await secrets.write('inventory.ini', `target ${hostVars.join(' ')}\n`);
    const vars = await secrets.write('vars.json', JSON.stringify({ ...run.vars, ...(login.password && !secrets.keyFile ? { ansible_password: login.password } : {}) }));
    await secrets.write('ansible.cfg', '[defaults]\n');
    const env = {
      ...process.env,
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      ANSIBLE_SSH_ARGS: SSH_OPTIONS.join(' '),
      ANSIBLE_PIPELINING: 'True',
      // No ansible.cfg from the working directory or the user's home changes how we deploy.
      ANSIBLE_CONFIG: join(secrets.path, 'ansible.cfg'),
      ANSIBLE_HOME: join(secrets.path, 'home'),
      ANSIBLE_LOCAL_TEMP: join(secrets.path, 'tmp'),
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_TIMEOUT: '10',
      PYTHONUNBUFFERED: '1',
    };
    const timeoutMs = run.timeoutMs ?? 15 * 60_000;
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ansible-playbook', ['-i', inventory, '-e', `@${vars}`, run.playbook], { env, cwd: secrets.path, stdio: ['ignore', 'pipe', 'pipe'] });
      let task = '';
      let started = 0;
      let failure: StratoError | undefined;
      let tail = '';
      let pending = '';
      const timer = setTimeout(() => {
        failure = new StratoError(DeployErrors.DEPLOY_FAILED, `the deployment on ${login.address} did not finish within ${timeoutMs} ms (task '${task}')`);
        child.kill('SIGKILL');
      }, timeoutMs);
      const onLine = (line: string) => {
        tail = `${tail}\n${line}`.slice(-4000);
        const t = /^TASK \[(.*)\] \**$/.exec(line);
        if (t) {
          task = t[1];
          started += 1;
          run.onProgress?.(Math.min(99, (100 * (started - 1)) / Math.max(1, run.totalTasks)), task);
          return;
        }
        const f = FAILURE.exec(line);
        if (f && !failure) failure = classify(login, f[1], f[2], task);
      };
      child.stdout.on('data', (d: Buffer) => {
        pending += String(d);
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(onLine);
      });
      child.stderr.on('data', (d: Buffer) => (tail = `${tail}\n${String(d)}`.slice(-4000)));
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new StratoError(DeployErrors.DEPLOY_FAILED, `cannot run ansible-playbook: ${e.message}`));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (pending) onLine(pending);
        if (code === 0 && !failure) {
          run.onProgress?.(100, 'done');
          resolve();
        } else reject(failure ?? new StratoError(DeployErrors.DEPLOY_FAILED, `ansible-playbook exited with ${code} on ${login.address}: ${tail.trim().split('\n').slice(-5).join(' | ')}`));
      });
    });
  } finally {
    await secrets.dispose();
  }
}

function classify(login: SshLogin, kind: string, json: string, task: string): StratoError {
  let msg = json;
  try {
    const r = JSON.parse(json) as { msg?: string; stderr?: string };
    msg = [r.msg, r.stderr].filter(Boolean).join(': ') || json;
  } catch {
    /* not JSON: keep the text */
  }
  const who = `${login.username}@${login.address}:${login.port}`;
  if (kind === 'UNREACHABLE') {
    if (/Permission denied|incorrect password|Authentication failed/i.test(msg)) return new StratoError(DeployErrors.SSH_LOGIN_REFUSED, `the SSH login ${who} was refused: wrong username, password or key (${msg.trim()})`);
    return new StratoError(DeployErrors.UNREACHABLE, `cannot reach ${who} over SSH: ${msg.trim()}`);
  }
  return new StratoError(DeployErrors.DEPLOY_FAILED, `deploying the agent on ${login.address} failed at '${task}': ${msg.trim()}`);
}
