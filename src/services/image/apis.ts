import { Type } from '@sinclair/typebox';
import { IMAGE_ARCHITECTURES, IMAGE_FORMATS, IMAGE_MEDIA_TYPES, IMAGE_PLATFORMS } from '../../contracts/image.ts';
import { defineApi, defineQueryApi, P } from '../../core/api/define-api.ts';

const oneOf = (values: readonly string[]) => Type.Union(values.map((v) => Type.Literal(v)));
const uuidList = () => Type.Array(P.uuid(), { minItems: 1, maxItems: 64 });
/** ZStack accepts images from these schemes (upload:// and zstore:// are internal). */
const IMAGE_URL = () => Type.String({ minLength: 1, maxLength: 1024, pattern: '^(file|http|https|ftp|sftp)://' });

export const AddImage = defineApi({
  name: 'AddImage', service: 'image', kind: 'async', method: 'POST', path: '/images', create: true, tagResourceType: 'ImageVO',
  params: {
    name: P.name(),
    description: P.description(),
    url: IMAGE_URL(),
    mediaType: Type.Optional(oneOf(IMAGE_MEDIA_TYPES)),
    guestOsType: Type.Optional(Type.String({ maxLength: 255 })),
    architecture: Type.Optional(oneOf(IMAGE_ARCHITECTURES)),
    system: Type.Optional(Type.Boolean()),
    format: Type.Optional(oneOf(IMAGE_FORMATS)),
    platform: Type.Optional(oneOf(IMAGE_PLATFORMS)),
    backupStorageUuids: uuidList(),
    type: Type.Optional(Type.String({ maxLength: 255 })),
    virtio: Type.Optional(Type.Boolean()),
  },
  timeoutMs: 3 * 3600_000,
  result: { inventory: 'ImageInventory' },
  description: 'Add an image from a URL: each backup storage downloads it; the image is Ready when at least one has it',
});

export const UpdateImage = defineApi({
  name: 'UpdateImage', service: 'image', kind: 'async', method: 'PUT', path: '/images/{uuid}/actions',
  params: {
    uuid: P.uuid(),
    name: Type.Optional(P.name()),
    description: P.description(),
    guestOsType: Type.Optional(Type.String({ maxLength: 255 })),
    mediaType: Type.Optional(oneOf(IMAGE_MEDIA_TYPES)),
    format: Type.Optional(oneOf(IMAGE_FORMATS)),
    system: Type.Optional(Type.Boolean()),
    platform: Type.Optional(oneOf(IMAGE_PLATFORMS)),
    architecture: Type.Optional(oneOf(IMAGE_ARCHITECTURES)),
    virtio: Type.Optional(Type.Boolean()),
  },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ImageInventory' },
  description: 'Update the attributes of an image',
});

export const ChangeImageState = defineApi({
  name: 'ChangeImageState', service: 'image', kind: 'async', method: 'PUT', path: '/images/{uuid}/actions',
  params: { uuid: P.uuid(), stateEvent: P.stateEvent() },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ImageInventory' },
  description: 'Enable or disable an image (a disabled image creates no new VMs)',
});

export const DeleteImage = defineApi({
  name: 'DeleteImage', service: 'image', kind: 'async', method: 'DELETE', path: '/images/{uuid}',
  params: { uuid: P.uuid(), backupStorageUuids: Type.Optional(uuidList()) },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Delete an image (from the given backup storages, or all): it becomes Deleted and can be recovered until expunged',
});

/**
 * ZStack names the path variable `imageUuid` here; Strato's router needs one name per path shape
 * shared with UpdateImage and ChangeImageState, so it is `uuid` (the URL and body key are ZStack's).
 */
export const RecoverImage = defineApi({
  name: 'RecoverImage', service: 'image', kind: 'async', method: 'PUT', path: '/images/{uuid}/actions',
  params: { uuid: P.uuid(), backupStorageUuids: Type.Optional(uuidList()) },
  resourceUuidParam: 'uuid',
  result: { inventory: 'ImageInventory' },
  description: 'Recover a deleted image (on the given backup storages, or all)',
});

export const ExpungeImage = defineApi({
  name: 'ExpungeImage', service: 'image', kind: 'async', method: 'PUT', path: '/images/{uuid}/actions',
  params: { uuid: P.uuid(), backupStorageUuids: Type.Optional(uuidList()) },
  resourceUuidParam: 'uuid',
  result: { none: true },
  description: 'Remove a deleted image from its backup storages (the given ones, or all) for good',
});

export const QueryImage = defineQueryApi({ name: 'QueryImage', inventory: 'ImageInventory', path: '/images' });

export const imageApis = [AddImage, UpdateImage, ChangeImageState, DeleteImage, RecoverImage, ExpungeImage, QueryImage];
