import type { ServiceModule } from '../core/node-context.ts';
import { backupStorageService } from '../services/backup-storage/index.ts';
import { clusterService } from '../services/cluster/index.ts';
import { globalConfigService } from '../services/global-config/index.ts';
import { hostService } from '../services/host/index.ts';
import { simulatorPlugin } from '../plugins/simulator/index.ts';
import { identityService } from '../services/identity/index.ts';
import { imageService } from '../services/image/index.ts';
import { simulatorBackupStoragePlugin } from '../plugins/simulator-backup-storage/index.ts';
import { offeringService } from '../services/offering/index.ts';
import { queryService } from '../services/query/index.ts';
import { tagService } from '../services/tag/index.ts';
import { zoneService } from '../services/zone/index.ts';
import { l2NetworkService } from '../services/l2-network/index.ts';
import { l3NetworkService } from '../services/l3-network/index.ts';
import { networkServiceService } from '../services/network-service/index.ts';
import { primaryStorageService } from '../services/primary-storage/index.ts';
import { volumeService } from '../services/volume/index.ts';
import { volumeSnapshotService } from '../services/volume-snapshot/index.ts';
import { localStoragePlugin } from '../plugins/local-storage/index.ts';
import { simulatorPrimaryStoragePlugin } from '../plugins/simulator-primary-storage/index.ts';
import { securityGroupService } from '../services/security-group/index.ts';
import { vipService } from '../services/vip/index.ts';
import { eipService } from '../services/eip/index.ts';
import { hostAllocatorService } from '../services/host-allocator/index.ts';

/** The services a management node loads, in order; plugins follow them. */
export const builtinModules: readonly ServiceModule[] = [globalConfigService, tagService, identityService, queryService, zoneService, clusterService, l2NetworkService, l3NetworkService, networkServiceService, securityGroupService, vipService, eipService, offeringService, backupStorageService, imageService, simulatorBackupStoragePlugin, hostService, hostAllocatorService, simulatorPlugin, primaryStorageService, volumeService, volumeSnapshotService, localStoragePlugin, simulatorPrimaryStoragePlugin];
