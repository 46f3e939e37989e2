import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
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

const USERNAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;
const DNS_NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;

/**
 * A login's username and address go into an Ansible INI inventory and ssh's argv: only a plain
 * username and an IP literal or DNS name pass (no spaces, `=`, or a leading `-` taken as an option).
 * Returns what is wrong, or undefined.
 */
export function invalidSshLogin(address: string, username: string): string | undefined {
  if (!USERNAME.test(username)) return `[${username}] is not a valid SSH username`;
  if (!isIP(address) && !DNS_NAME.test(address)) return `[${address}] is not an IP address or a DNS name`;
  return undefined;
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
