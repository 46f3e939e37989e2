import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How the node logs in to a host over SSH: a password, or a private key (OpenSSH text). */
export interface SshLogin {
  address: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
}

/** A private directory for one deployment's secrets (inventory, extra vars, key); removed by `dispose`. */
export interface SecretDir {
  path: string;
  /** The key file, when the login has a key. */
  keyFile?: string;
  write(name: string, content: string): Promise<string>;
  dispose(): Promise<void>;
}

export async function secretDir(login: SshLogin): Promise<SecretDir> {
  const path = await mkdtemp(join(tmpdir(), 'strato-deploy-'));
  await chmod(path, 0o700);
  const write = async (name: string, content: string) => {
    const file = join(path, name);
    await writeFile(file, content, { mode: 0o600 });
    return file;
  };
  // ssh refuses a key without a final newline.
  const keyFile = login.privateKey ? await write('id', login.privateKey.endsWith('\n') ? login.privateKey : `${login.privateKey}\n`) : undefined;
  return { path, keyFile, write, dispose: () => rm(path, { recursive: true, force: true }) };
}

/** SSH options for a node that meets hosts before it knows their keys (ZStack does the same). */
export const SSH_OPTIONS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', '-o', 'ControlMaster=no', '-o', 'LogLevel=ERROR'];
