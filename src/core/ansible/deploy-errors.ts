/** Errors of agent deployment over SSH, in ZStack's ErrorCode shape. */
export const DeployErrors = {
  DEPLOY_FAILED: { code: 'KVM.1000', description: 'Failed to deploy the agent on the host' },
  SSH_LOGIN_REFUSED: { code: 'KVM.1001', description: 'The host refused the SSH login' },
  UNREACHABLE: { code: 'KVM.1002', description: 'The host cannot be reached over SSH' },
} as const;
