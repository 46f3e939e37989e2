import { AgentTokenResolverPoint } from '../../contracts/agent-report.ts';
import { BackupStorageTypePoint } from '../../contracts/backup-storage.ts';
import { IMAGE_STORE_PROGRESS_PATH } from '../../contracts/image-store-agent.ts';
import { AgentCommandPoint } from '../../contracts/vm.ts';
import type { ServiceModule } from '../../core/node-context.ts';
import { imageStoreBackend } from './backend.ts';
import { imageStoreMigration } from './schema.ts';

export const IMAGE_STORE_TYPE = 'ImageStoreBackupStorage';

/**
 * The image store backup storage (ZStack's `ImageStoreBackupStorage`): AddImageStoreBackupStorage
 * (served by the backup-storage service) deploys an agent on the storage host and this backend drives it.
 */
export const imageStorePlugin: ServiceModule = {
  id: 'image-store',
  migrations: [imageStoreMigration],
  setup(ctx) {
    const agentPort = ctx.config.define({ category: 'imageStore', name: 'agent.port', type: 'number', defaultValue: 7072, min: 1, max: 65535, description: 'the port image store agents listen on (apart from KVM agents, so one machine can be both)' });
    const agentRootDir = ctx.config.define({ category: 'imageStore', name: 'agent.rootDir', type: 'string', defaultValue: '/var/lib/strato-agent', description: 'where on an image store host its agent keeps its state (a bs-<uuid> directory under it)' });
    ctx.extensions.registerStrategy(BackupStorageTypePoint, IMAGE_STORE_TYPE, imageStoreBackend({ db: ctx.db, log: ctx.log, agents: ctx.agents, progress: ctx.progress, agentPort, agentRootDir }), { by: 'image-store' });
    // A download's progress, reported by the agent while /imagestore/download runs: to the AddImage job's progress.
    ctx.extensions.registerStrategy(AgentCommandPoint, IMAGE_STORE_PROGRESS_PATH, { handle: async (body) => ({ delivered: ctx.agents.deliverProgress(body) }) }, { by: 'image-store' });
    // The store's agent signs its reports (download progress) with the token it was deployed with.
    ctx.extensions.registerObserver(AgentTokenResolverPoint, {
      tokenOf: async (uuid) => (await ctx.db.selectFrom('image_store_backup_storage').select('agentToken').where('uuid', '=', uuid).executeTakeFirst())?.agentToken as string | undefined,
    }, { by: 'image-store' });
  },
};
