import { StratoError, SysErrors } from '../errors/index.ts';
import type { FlowStep } from '../flow/index.ts';

interface TaggedCtx {
  uuid: string;
  systemTags?: string[];
  userTags?: string[];
}

/**
 * The step every create chain uses to attach the API's `systemTags`/`userTags` to the new resource
 * (they were validated against the declared patterns before the chain started). Rollback removes them.
 */
export function createTagsStep<Ctx extends TaggedCtx>(resourceType: string): FlowStep<Ctx> {
  return {
    name: 'create-tags',
    skip: (ctx) => !ctx.systemTags?.length && !ctx.userTags?.length,
    async run(ctx, env) {
      const tags = env.services.tags;
      if (!tags) throw new StratoError(SysErrors.INTERNAL, 'the flow engine has no tag store');
      await tags.createFromApi(ctx, ctx.uuid, resourceType);
    },
    async rollback(ctx, env) {
      await env.services.tags?.deleteForResources([ctx.uuid]);
    },
  };
}
