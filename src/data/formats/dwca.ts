import { derivedUuid, type ExchangeMeta, type ExchangePhoto } from './exchange.js';
import { zipArchive } from './zip-file.js';

/**
 * A Darwin Core Archive for GBIF and OBIS: an occurrence core (`occurrence.txt`, tab-separated,
 * one row per annotation: one animal seen in one photo), `meta.xml` mapping its columns to Darwin
 * Core terms, and `eml.xml` (the dataset's title, creator and licence), zipped. What Darwin Core
 * has no term for (viewpoint, box, rotation) goes into `dynamicProperties` as JSON. GBIF needs a
 * scientificName on every occurrence: an annotation without a species says `Animalia`.
 */

const DWC = 'http://rs.tdwg.org/dwc/terms/';

/** The core's columns: Darwin Core terms, in order. */
export const DWC_COLUMNS = [
  'occurrenceID', 'basisOfRecord', 'eventDate', 'decimalLatitude', 'decimalLongitude', 'geodeticDatum', 'scientificName',
  'organismID', 'organismName', 'associatedMedia', 'locationID', 'eventID', 'dynamicProperties',
] as const;

/** Licences GBIF publishes under, with the text eml.xml gives them. */
const LICENSES: Record<string, { url: string; title: string }> = {
  'CC0-1.0': { url: 'http://creativecommons.org/publicdomain/zero/1.0/legalcode', title: 'Public Domain (CC0 1.0)' },
  'CC-BY-4.0': { url: 'http://creativecommons.org/licenses/by/4.0/legalcode', title: 'Creative Commons Attribution (CC-BY) 4.0' },
  'CC-BY-NC-4.0': { url: 'http://creativecommons.org/licenses/by-nc/4.0/legalcode', title: 'Creative Commons Attribution Non Commercial (CC-BY-NC) 4.0' },
};

/** The licence names {@link dwcaArchive} accepts. */
export const DWCA_LICENSES = Object.keys(LICENSES);

/** A core cell: tabs and line breaks would split rows (the core has no quoting), so they become spaces. */
const cell = (v: string | number | null): string => (v === null ? '' : String(v).replace(/[\t\r\n]+/g, ' '));
const xml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The occurrence core's rows (header first).
 *
 * @param photos - the photos with their annotations (uuids filled in)
 * @returns the rows, cells as text
 * @example
 * occurrenceRows(photos)[0]; // ['occurrenceID', 'basisOfRecord', ...]
 */
export function occurrenceRows(photos: readonly ExchangePhoto[]): string[][] {
  const rows: string[][] = [[...DWC_COLUMNS]];
  for (const p of photos) {
    const placed = p.latitude !== null && p.longitude !== null;
    for (const [k, a] of p.annotations.entries()) {
      const extra = { viewpoint: a.viewpoint || undefined, bbox: a.box ? [a.box.x, a.box.y, a.box.w, a.box.h] : undefined, theta: a.theta || undefined };
      const dynamic = Object.values(extra).some((v) => v !== undefined) ? JSON.stringify(extra) : null;
      rows.push([
        a.uuid ?? derivedUuid('annotation', `${p.uuid ?? p.file}:${k}`), 'HumanObservation', p.takenOn, placed ? p.latitude : null, placed ? p.longitude : null,
        placed ? 'WGS84' : null, a.species || 'Animalia', a.individual?.uuid ?? a.individual?.name ?? null, a.individual?.name ?? null, p.file, p.location, p.sighting, dynamic,
      ].map(cell));
    }
  }
  return rows;
}

/** meta.xml: the core's file, row type and each column's term. */
export function metaXml(): string {
  const fields = DWC_COLUMNS.map((t, i) => `    <field index="${i}" term="${DWC}${t}"/>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<archive xmlns="http://rs.tdwg.org/dwc/text/" metadata="eml.xml">
  <core encoding="UTF-8" fieldsTerminatedBy="\\t" linesTerminatedBy="\\n" fieldsEnclosedBy="" ignoreHeaderLines="1" rowType="${DWC}Occurrence">
    <files>
      <location>occurrence.txt</location>
    </files>
    <id index="0"/>
${fields}
  </core>
</archive>
`;
}

/** eml.xml: the dataset's metadata in GBIF's EML profile. */
export function emlXml(meta: ExchangeMeta, published: string): string {
  const licence = LICENSES[meta.license];
  if (!licence) throw new Error(`licence ${meta.license}: expected one of ${DWCA_LICENSES.join(', ')}`);
  const party = `<organizationName>${xml(meta.creator)}</organizationName>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<eml:eml xmlns:eml="eml://ecoinformatics.org/eml-2.1.1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="eml://ecoinformatics.org/eml-2.1.1 http://rs.gbif.org/schema/eml-gbif-profile/1.1/eml.xsd" packageId="${derivedUuid('dataset', meta.title)}" system="http://gbif.org" scope="system" xml:lang="eng">
  <dataset>
    <title xml:lang="eng">${xml(meta.title)}</title>
    <creator>${party}</creator>
    <metadataProvider>${party}</metadataProvider>
    <pubDate>${published}</pubDate>
    <language>eng</language>
    <abstract><para>Photo-identification records exported by whaleid: one occurrence per animal seen in a photo, its individual in organismID.</para></abstract>
    <intellectualRights><para>This work is licensed under a <ulink url="${licence.url}"><citetitle>${licence.title} License</citetitle></ulink>.</para></intellectualRights>
    <contact>${party}</contact>
  </dataset>
</eml:eml>
`;
}

/**
 * The photos as a zipped Darwin Core Archive.
 *
 * @param photos - the photos with their annotations (uuids filled in)
 * @param meta - title, creator and licence for eml.xml
 * @returns the zip's bytes
 * @throws {Error} for a licence GBIF does not take
 * @example
 * await writeFileAtomic('whales-dwca.zip', dwcaArchive(photos, { title: 'Hervey Bay humpbacks', creator: 'Ann', license: 'CC-BY-4.0' }));
 */
export function dwcaArchive(photos: readonly ExchangePhoto[], meta: ExchangeMeta): Buffer {
  const core = occurrenceRows(photos).map((r) => r.join('\t')).join('\n');
  return zipArchive([
    { name: 'occurrence.txt', data: Buffer.from(`${core}\n`, 'utf8') },
    { name: 'meta.xml', data: Buffer.from(metaXml(), 'utf8') },
    { name: 'eml.xml', data: Buffer.from(emlXml(meta, new Date().toISOString().slice(0, 10)), 'utf8') },
  ]);
}
