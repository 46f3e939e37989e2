/**
 * What the ownership service (owners and sharing of resources) offers others.
 *
 * Every resource created through an API has an owner account (`account_resource_ref`); resources
 * without one are the administrator's. Reads of normal accounts are restricted by the query engine
 * (`core/query/access-filter.ts`), calls on resources of other accounts answer as for missing uuids.
 */
export const OwnershipEvents = {
  /** `{ resourceUuid, resourceType, fromAccountUuid, toAccountUuid }`: ChangeResourceOwner gave a resource to another account. */
  ownerChanged: 'ownership.ownerChanged',
} as const;

export interface OwnerChangedEvent {
  resourceUuid: string;
  resourceType: string;
  fromAccountUuid: string;
  toAccountUuid: string;
}
