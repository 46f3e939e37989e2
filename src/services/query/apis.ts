import { Type } from '@sinclair/typebox';
import { defineApi } from '../../core/api/define-api.ts';

export const ZQLQuery = defineApi({
  name: 'ZQLQuery', service: 'query', kind: 'sync', method: 'GET', path: '/zql',
  params: { zql: Type.String({ minLength: 1, maxLength: 65536 }) },
  result: { fields: { results: Type.Array(Type.Object({}, { additionalProperties: true })) } },
  description: 'Run ZQL text: query <entity> where … order by … limit …; count <entity> …',
});

export const queryApis = [ZQLQuery];
