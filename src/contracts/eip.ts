import { observerPoint } from '../core/plugin/index.ts';

/** An EIP mapped to a NIC, as the EIP service tells its backends. */
export interface EipOnNic {
  eipUuid: string;
  vmNicUuid: string;
}

/**
 * Backends realizing EIPs (ZStack's EipBackend: the flat provider's on KVM hosts), told by the EIP
 * service when a mapping starts or ends while the row says so:
 * - `afterAttached` (AttachEip, CreateEip with a NIC, ChangeEipState enable of an attached EIP): the
 *   row points at the NIC; a backend whose host refuses throws, and the EIP service undoes the attach;
 * - `beforeDetached` (DetachEip, DeleteEip, ChangeEipState disable, the NIC going): the mapping is about
 *   to end; errors are logged (a host that is away drops it at its reconnect's sync).
 * A VM's own moves (start, stop, migrate) reach backends through VmNetworkFollowerPoint instead.
 */
export interface EipBackend {
  afterAttached?(e: EipOnNic): Promise<void>;
  beforeDetached?(e: EipOnNic): Promise<void>;
}

export const EipBackendPoint = observerPoint<EipBackend>('eip.backend');
