import { Type } from '@sinclair/typebox';
import { defineApi, P, type ApiParams } from '../../core/api/define-api.ts';
import { serviceFromHandlers, type Message } from '../../core/bus/index.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { defineInventory } from '../../core/query/inventory.ts';

/** The reports as ZStack's TaskProgressInventory (the table is core's: any task may report). */
export const TaskProgressInventory = defineInventory({
  name: 'TaskProgressInventory',
  className: 'org.zstack.header.core.progress.TaskProgressInventory',
  table: 'task_progress',
  resourceType: 'TaskProgressVO',
  primaryKey: 'taskUuid',
  fields: { taskUuid: { type: 'string', column: 'uuid' }, apiId: { type: 'string', hidden: true }, taskName: 'string', type: 'string', content: 'string', opaque: 'string', time: 'number' },
  defaultSort: 'time',
});

export const GetTaskProgress = defineApi({
  name: 'GetTaskProgress', service: 'taskProgress', kind: 'sync', method: 'GET', path: '/task-progresses/{apiId}',
  params: { apiId: P.uuid('the api job id (the X-Job-UUID or the id in the job location)'), all: Type.Optional(Type.Boolean({ description: 'every report, oldest first, instead of the newest' })) },
  result: { inventories: 'TaskProgressInventory' },
  description: 'Progress of a running api job, as reported by the tasks it runs (e.g. an image download)',
});

export const taskProgressApis = [GetTaskProgress];

/** Answers GetTaskProgress from the reports long tasks file under their api id. */
export const taskProgressService: ServiceModule = {
  id: 'taskProgress',
  apis: taskProgressApis,
  inventories: [TaskProgressInventory],
  setup(ctx) {
    ctx.bus.registerService(
      serviceFromHandlers('taskProgress', {
        GetTaskProgress: async (msg: Message<ApiParams<typeof GetTaskProgress>>) => {
          const rows = await ctx.progress.list(msg.body.apiId, msg.body.all ?? false);
          return {
            inventories: rows.map((r) => ({ taskUuid: r.uuid, taskName: r.taskName, type: r.type, content: r.content, opaque: r.opaque ? JSON.parse(r.opaque) : undefined, time: Number(r.time) })),
          };
        },
      }),
    );
  },
};
