/**
 * Deploying `strato agent` on a machine over SSH with the Ansible playbook in deploy/: shared by every
 * plugin that runs an agent (KVM hosts, image-store backup storage), so no plugin imports another.
 */
export { agentDataDirOf, deployAgent, deploymentHashOf, isDeployed, removeAgent, DEPLOY_DIR, STRATO_ROOT, type AgentDeployment, type AgentRole } from './agent-deployment.ts';
export { DeployErrors } from './deploy-errors.ts';
export { runPlaybook, type PlaybookRun } from './playbook-runner.ts';
export { sshCommand } from './ssh-command.ts';
export { invalidSshLogin, type SshLogin } from './ssh-login.ts';
