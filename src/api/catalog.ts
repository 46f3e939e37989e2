import type { ApiDef } from '../core/api/define-api.ts';
import { clusterApis } from '../services/cluster/apis.ts';
import { globalConfigApis } from '../services/global-config/apis.ts';
import { identityApis } from '../services/identity/apis.ts';
import { offeringApis } from '../services/offering/apis.ts';
import { queryApis } from '../services/query/apis.ts';
import { tagApis } from '../services/tag/apis.ts';
import { zoneApis } from '../services/zone/apis.ts';

/**
 * Every API definition, as pure data (schemas, paths, names) without handlers: what the CLI and the
 * OpenAPI generator read. The node registers the same definitions through each service module.
 */
export const apiCatalog: readonly ApiDef[] = [...identityApis, ...queryApis, ...zoneApis, ...clusterApis, ...tagApis, ...globalConfigApis, ...offeringApis] as ApiDef[];
