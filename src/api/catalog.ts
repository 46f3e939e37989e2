import type { ApiDef } from '../core/api/define-api.ts';
import { simulatorBackupStorageApis } from '../plugins/simulator-backup-storage/apis.ts';
import { backupStorageApis } from '../services/backup-storage/apis.ts';
import { clusterApis } from '../services/cluster/apis.ts';
import { globalConfigApis } from '../services/global-config/apis.ts';
import { hostApis } from '../services/host/apis.ts';
import { identityApis } from '../services/identity/apis.ts';
import { auditApis } from '../services/audit/apis.ts';
import { imageApis } from '../services/image/apis.ts';
import { offeringApis } from '../services/offering/apis.ts';
import { queryApis } from '../services/query/apis.ts';
import { ownershipApis } from '../services/ownership/apis.ts';
import { quotaApis } from '../services/quota/apis.ts';
import { tagApis } from '../services/tag/apis.ts';
import { zoneApis } from '../services/zone/apis.ts';
import { l2NetworkApis } from '../services/l2-network/apis.ts';
import { l3NetworkApis } from '../services/l3-network/apis.ts';
import { networkServiceApis } from '../services/network-service/apis.ts';
import { primaryStorageApis } from '../services/primary-storage/apis.ts';
import { simulatorPrimaryStorageApis } from '../plugins/simulator-primary-storage/apis.ts';
import { volumeApis } from '../services/volume/apis.ts';
import { volumeSnapshotApis } from '../services/volume-snapshot/apis.ts';
import { securityGroupApis } from '../services/security-group/apis.ts';
import { vipApis } from '../services/vip/apis.ts';
import { eipApis } from '../services/eip/apis.ts';
import { vmApis } from '../services/vm/apis.ts';
import { taskProgressApis } from '../services/task-progress/index.ts';
import { consoleApis } from '../services/console/apis.ts';
import { nicQosApis } from '../services/nic-qos/apis.ts';

/**
 * Every API definition, as pure data (schemas, paths, names) without handlers: what the CLI and the
 * OpenAPI generator read. The node registers the same definitions through each service module.
 */
export const apiCatalog: readonly ApiDef[] = [...identityApis, ...auditApis, ...queryApis, ...ownershipApis, ...quotaApis, ...zoneApis, ...clusterApis, ...tagApis, ...globalConfigApis, ...offeringApis, ...backupStorageApis, ...simulatorBackupStorageApis, ...imageApis, ...hostApis, ...l2NetworkApis, ...l3NetworkApis, ...networkServiceApis, ...securityGroupApis, ...vipApis, ...eipApis, ...primaryStorageApis, ...simulatorPrimaryStorageApis, ...volumeApis, ...volumeSnapshotApis, ...vmApis, ...taskProgressApis, ...consoleApis, ...nicQosApis] as ApiDef[];
