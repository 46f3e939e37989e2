import { Type } from '@sinclair/typebox';
import { defineApi, P } from '../../core/api/define-api.ts';
import { NIC_QOS_MAX_BANDWIDTH, NIC_QOS_MIN_BANDWIDTH } from '../../contracts/nic-qos.ts';

const bandwidth = (what: string) => Type.Optional(Type.Integer({ minimum: NIC_QOS_MIN_BANDWIDTH, maximum: NIC_QOS_MAX_BANDWIDTH, description: `${what}, bits per second` }));

/** ZStack's paths: `uuid` is the NIC's, under `/vm-instances` as in ZStack's SDK. */
export const SetNicQos = defineApi({
  name: 'SetNicQos', service: 'nic-qos', kind: 'async', method: 'PUT', path: '/vm-instances/{uuid}/actions',
  params: { uuid: P.uuid('the VM NIC'), outboundBandwidth: bandwidth('traffic from the VM'), inboundBandwidth: bandwidth('traffic into the VM') },
  resourceUuidParam: 'uuid', result: { none: true },
  description: "Limit a VM NIC's bandwidth (a direction not given keeps its limit); applied at once when the VM runs, and at every start",
});

export const GetNicQos = defineApi({
  name: 'GetNicQos', service: 'nic-qos', kind: 'sync', method: 'GET', path: '/vm-instances/{uuid}/nic-qos',
  params: { uuid: P.uuid('the VM NIC'), forceSync: Type.Optional(Type.Boolean({ description: 'read the limits from the host the VM runs on' })) },
  resourceUuidParam: 'uuid',
  result: { fields: { outboundBandwidth: Type.Integer(), inboundBandwidth: Type.Integer(), outboundBandwidthUpthreshold: Type.Integer(), inboundBandwidthUpthreshold: Type.Integer() } },
  description: "A VM NIC's bandwidth limits in bits per second (-1: none)",
});

export const DeleteNicQos = defineApi({
  name: 'DeleteNicQos', service: 'nic-qos', kind: 'async', method: 'DELETE', path: '/vm-instances/{uuid}/nic-qos',
  params: { uuid: P.uuid('the VM NIC'), direction: Type.Union([Type.Literal('in'), Type.Literal('out')]) },
  resourceUuidParam: 'uuid', result: { none: true },
  description: "Remove a VM NIC's inbound (in) or outbound (out) bandwidth limit",
});

export const nicQosApis = [SetNicQos, GetNicQos, DeleteNicQos];
