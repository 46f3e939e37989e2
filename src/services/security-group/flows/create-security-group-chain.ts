import { defineChain } from '../../../core/flow/index.ts';
import { createTagsStep } from '../../../core/tag/index.ts';
import { persistSecurityGroup, type CreateSecurityGroupCtx } from './persist-security-group.ts';

/** `securityGroup.create`: the group and its default rules, then its tags; a failure undoes both. */
export const createSecurityGroupChain = defineChain<CreateSecurityGroupCtx>('securityGroup.create', [persistSecurityGroup, createTagsStep<CreateSecurityGroupCtx>('SecurityGroupVO')]);
