import type { Box } from '../image/affine.js';
import type { DecodedPhoto } from '../image/decode.js';

/** Where a photo's fluke box came from. */
export type BoxSource = 'none' | 'csv' | 'model' | 'user';

/** Review state of a photo: waiting for a person, assigned to an individual, or set aside. */
export type PhotoStatus = 'pending' | 'identified' | 'skipped';

/** An individual animal of the catalog. */
export interface IndividualRecord {
  id: number;
  name: string;
  notes: string;
  createdAt: string;
  createdBy: string;
  /** Set when this individual was merged into another (its photos moved there). */
  mergedInto: number | null;
  /** Photos assigned to it (filled by list/get queries). */
  photoCount?: number;
  /** The latest date one of its photos was taken (filled by list/get queries). */
  lastSeen?: string | null;
  /** A photo to show it by: its first identified photo (filled by list/get queries). */
  coverPhotoId?: number | null;
}

/** A photo of the catalog. */
export interface PhotoRecord {
  id: number;
  sha256: string;
  format: string;
  bytes: number;
  width: number;
  height: number;
  /** The name it was uploaded or imported under: shown, never used as a path. */
  originalName: string;
  box: Box | null;
  boxSource: BoxSource;
  takenOn: string | null;
  location: string | null;
  /** GPS position in decimal degrees (both or neither). */
  latitude: number | null;
  longitude: number | null;
  /** Where `takenOn` came from: the camera's EXIF or a person; null when unknown. */
  takenOnSource: DetailSource | null;
  /** Where the position came from. */
  positionSource: DetailSource | null;
  /** The sighting (encounter) the photo belongs to. */
  encounterId: number | null;
  uploadedBy: string;
  uploadedAt: string;
  individualId: number | null;
  status: PhotoStatus;
}

/** Where a photo's date or position came from: the camera's EXIF, or a person who typed it. */
export type DetailSource = 'exif' | 'user';

/** What a person decided (or an import recorded), with who, when and which model proposed it. */
export interface DecisionRecord {
  id: number;
  photoId: number | null;
  /** `undo` reverts the decision `undoes` (the photo returns to its state before it). */
  action: 'import' | 'confirm' | 'new-individual' | 'skip' | 'merge' | 'undo';
  individualId: number | null;
  otherIndividualId: number | null;
  score: number | null;
  modelVersion: string | null;
  decidedBy: string;
  decidedAt: string;
  /** For an undo: the decision it reverted. */
  undoes: number | null;
  /**
   * The annotation decided about: a photo's decisions are about its first annotation, unless they
   * name another (POST /api/photos/:id/annotations/:aid/decision); null for merges.
   */
  annotationId: number | null;
}

/** What a user of the service may do: read; read, upload and decide; everything. */
export type UserRole = 'read-only' | 'reviewer' | 'admin';

/** An account of the service (its token is never kept, only the token's SHA-256). */
export interface UserRecord {
  id: number;
  name: string;
  role: UserRole;
  createdAt: string;
  createdBy: string;
  /** When its token was revoked; null while it is valid. */
  revokedAt: string | null;
}

/** An annotation's box in pixels: top-left corner, width and height (COCO's `bbox`). */
export interface AnnotationBox {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * One animal in a photo. A photo holds one or more; the first (ordinal 0) is the one the photo's
 * own box and individual mirror, so the review, the gallery and the decisions (per photo today)
 * work on it.
 */
export interface AnnotationRecord {
  id: number;
  photoId: number;
  /** 0 for the photo's first annotation, then 1, 2, ... in the order they were added. */
  ordinal: number;
  /** null: the whole photo. */
  box: AnnotationBox | null;
  /** Rotation of the box in radians (Wildbook's `theta`), 0 when upright. */
  theta: number;
  /** Species or IA class as given (`whale_fluke`, `Megaptera novaeangliae`); '' when unknown. */
  species: string;
  /** Viewpoint as given (fluke, left, right, dorsal, ...); '' when unknown. */
  viewpoint: string;
  individualId: number | null;
  /** The uuid an import gave it, else null (exports derive one). */
  uuid: string | null;
}

/** An annotation of a new photo (imports of COCO and Wildbook files). */
export interface NewAnnotation {
  box: AnnotationBox | null;
  theta?: number;
  species?: string;
  viewpoint?: string;
  /** The individual by name (found, following merges, or created in the photo's transaction). */
  individualName?: string | null;
  /** Stored on an individual this annotation creates. */
  individualUuid?: string | null;
  uuid?: string | null;
}

/** Details of a new photo besides its bytes. */
export interface NewPhoto {
  originalName: string;
  box?: Box | null;
  boxSource?: BoxSource;
  takenOn?: string | null;
  location?: string | null;
  /** GPS position given by a person (both or neither); otherwise the photo's EXIF position is used. */
  latitude?: number | null;
  longitude?: number | null;
  uploadedBy?: string;
  /** Assign at once (imports); otherwise the photo waits for review. */
  individualId?: number | null;
  /**
   * Assign at once to the individual of this name (or the one it was merged into), created by
   * `uploadedBy` in the same transaction when there is none: imports use it so that a photo that
   * turns out unreadable never leaves a new individual without photos. Ignored when `individualId`
   * is given.
   */
  individualName?: string;
  /**
   * The photo's annotations, first one first (imports of COCO and Wildbook files). When given, the
   * photo's box and individual are the first annotation's (`box`, `individualId` and
   * `individualName` are not used).
   */
  annotations?: NewAnnotation[];
  /** The media asset's uuid an import gave (kept for exports). */
  uuid?: string | null;
  /**
   * The photo decoded already (`decodePhoto`: an upload decodes once for the integrity check, the
   * fluke detector and the features); without it the catalog decodes it to check it.
   */
  decoded?: DecodedPhoto;
}

/** Who made a decision and with which model's proposal. */
export interface DecisionContext {
  by: string;
  modelVersion?: string | null;
  score?: number | null;
}

/** One page of a listing. */
export interface Page<T> {
  total: number;
  items: T[];
}
