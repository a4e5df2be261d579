import type { Box } from '../image/affine.js';

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
