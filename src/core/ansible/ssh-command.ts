import { execFile } from 'node:child_process';
import { SSH_OPTIONS, secretDir, type SshLogin } from './ssh-login.ts';

/**
 * One shell command on a host over SSH (password through sshpass's environment, never argv).
 * Resolves with the exit code and output; rejects only when ssh itself could not run the command
 * (exit 255: unreachable, login refused).
 */
export async function sshCommand(login: SshLogin, command: string, timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const secrets = await secretDir(login);
  try {
    const auth = secrets.keyFile ? ['-i', secrets.keyFile, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes'] : ['-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', 'PubkeyAuthentication=no'];
    const args = [...SSH_OPTIONS, ...auth, '-p', String(login.port), '--', `${login.username}@${login.address}`, command];
    const [file, argv] = login.password && !secrets.keyFile ? ['sshpass', ['-e', 'ssh', ...args]] : ['ssh', args];
    return await new Promise((resolve, reject) => {
      execFile(file, argv, { timeout: timeoutMs, env: { ...process.env, SSHPASS: login.password ?? '' }, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        // sshpass exits 5 on a wrong password, ssh 255 when it could not log in or connect.
        if (code === 255 || code === 5 || code === -1) reject(new Error(`ssh ${login.username}@${login.address}:${login.port}: ${stderr.trim() || (err as Error).message}`));
        else resolve({ code, stdout, stderr });
      });
    });
  } finally {
    await secrets.dispose();
  }
}
