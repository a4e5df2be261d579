/**
 * A map of an individual's sightings drawn offline, as SVG: coastlines from the `world-atlas`
 * package (Natural Earth land, TopoJSON) turned into GeoJSON by `topojson-client` and projected
 * by `d3-geo`. No tiles and nothing fetched: the outlines ship in node_modules, so the map works
 * on a boat without a connection, and the service sends the browser one small SVG.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { geoArea, geoBounds, geoGraticule, geoMercator, geoPath } from 'd3-geo';
import { feature } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';
import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import { distanceKm } from '../catalog/sighting-rule.js';

/** A point of the map: a sighting with a position. */
export interface MapPoint {
  latitude: number;
  longitude: number;
  /** Shown on hover and beside the point, e.g. the date. */
  label: string;
  /** Drawn as the photo under review rather than an earlier sighting. */
  current?: boolean;
}

/** Land outlines at Natural Earth's three scales: finer ones for maps of smaller areas. */
type Scale = '110m' | '50m' | '10m';
/** A land polygon with its bounds ([[west, south], [east, north]]), to draw only what is in view. */
interface LandPart { polygon: Polygon; bounds: [[number, number], [number, number]] }
const land = new Map<Scale, LandPart[]>();
const require = createRequire(import.meta.url);

function landOf(scale: Scale): LandPart[] {
  let parts = land.get(scale);
  if (!parts) {
    const topo = JSON.parse(readFileSync(require.resolve(`world-atlas/land-${scale}.json`), 'utf8')) as Topology<{ land: GeometryCollection }>;
    const all = feature(topo, topo.objects.land) as FeatureCollection<Polygon | MultiPolygon>;
    const polygons = all.features.flatMap((f) => (f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates));
    // a ring wound the wrong way is, on the sphere, everything but itself: the 10m outlines hold
    // a few such slivers, which would paint the whole map as land (no land exceeds a hemisphere)
    parts = polygons.map((coordinates): Polygon => ({ type: 'Polygon', coordinates })).filter((polygon) => geoArea(polygon) < 2 * Math.PI)
      .map((polygon) => ({ polygon, bounds: geoBounds(polygon) }));
    land.set(scale, parts);
  }
  return parts;
}

/**
 * The land polygons overlapping an area (the rest need not be projected and clipped).
 */
function landIn(scale: Scale, [[west, south], [east, north]]: [[number, number], [number, number]]): MultiPolygon {
  const overlaps = ({ bounds: [[w, s], [e, n]] }: LandPart): boolean => s <= north && n >= south && (w > e || (w <= east && e >= west));
  return { type: 'MultiPolygon', coordinates: landOf(scale).filter(overlaps).map((p) => p.polygon.coordinates) };
}

const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The area to show: the points' extent with a margin, at least `minSpan` degrees across. */
function extentOf(points: MapPoint[], minSpan: number): [[number, number], [number, number]] {
  if (points.length === 0) return [[-180, -70], [180, 80]];
  const lons = points.map((p) => p.longitude);
  const lats = points.map((p) => p.latitude);
  const grow = (lo: number, hi: number, limit: number): [number, number] => {
    const mid = (lo + hi) / 2;
    const half = Math.max(minSpan, (hi - lo) * 1.3) / 2;
    return [Math.max(-limit, mid - half), Math.min(limit, mid + half)];
  };
  const [west, east] = grow(Math.min(...lons), Math.max(...lons), 180);
  const [south, north] = grow(Math.min(...lats), Math.max(...lats), 80);
  return [[west, south], [east, north]];
}

/** A round distance for the scale bar, about a fifth of the map's width. */
function scaleBarKm(widthKm: number): number {
  const target = widthKm / 5;
  const pow = 10 ** Math.floor(Math.log10(target));
  return [5, 2, 1].map((k) => k * pow).find((v) => v <= target) ?? pow;
}

/**
 * Draws sightings on a map of the area around them (the world when there are none): land,
 * a graticule, a scale bar, each sighting numbered in time order and joined by a dashed track.
 *
 * @param points - the sightings with positions, oldest first
 * @param o - size in pixels and the map's title (for screen readers)
 * @returns the SVG document
 * @example
 * const svg = sightingsMapSvg([{ latitude: -33.86, longitude: 151.21, label: '2021-07-03' }], { width: 640, height: 360, title: 'Salt' });
 */
export function sightingsMapSvg(points: MapPoint[], o: { width: number; height: number; title: string }): string {
  const { width, height } = o;
  const [[west, south], [east, north]] = extentOf(points, 1.5);
  const span = Math.max(east - west, north - south);
  const scale: Scale = span > 40 ? '110m' : span > 6 ? '50m' : '10m';
  const corners = { type: 'MultiPoint' as const, coordinates: [[west, south], [east, north], [west, north], [east, south]] };
  const projection = geoMercator().fitExtent([[8, 8], [width - 8, height - 8]], corners).clipExtent([[0, 0], [width, height]]);
  const path = geoPath(projection);
  const step = span > 60 ? 30 : span > 20 ? 10 : span > 6 ? 2 : span > 2 ? 1 : 0.25;
  const graticule = path(geoGraticule().step([step, step]).extent([[-180, -80], [180.1, 80.1]])()) ?? '';
  const left = projection.invert!([20, height - 20])!;
  const right = projection.invert!([width - 20, height - 20])!;
  const widthKm = distanceKm({ longitude: left[0], latitude: left[1] }, { longitude: right[0], latitude: right[1] });
  const barKm = scaleBarKm(widthKm);
  const barPx = (barKm / widthKm) * (width - 40);
  const xy = points.map((p) => projection([p.longitude, p.latitude])!);
  const track = xy.filter((_, i) => !points[i].current);
  const marks = points.map((p, i) => {
    const [x, y] = xy[i].map((v) => v.toFixed(1));
    const n = points.slice(0, i + 1).filter((q) => !q.current).length;
    const text = p.current ? '?' : String(n);
    return `<g class="${p.current ? 'current' : 'sighting'}" data-label="${escapeXml(p.label)}"><title>${escapeXml(p.label)}</title>`
      + `<circle cx="${x}" cy="${y}" r="9" fill="${p.current ? '#c0392b' : '#1f5f99'}" stroke="#fff" stroke-width="2"/>`
      + `<text x="${x}" y="${y}" dy="3.5" text-anchor="middle" font-size="10" font-weight="bold" fill="#fff">${text}</text></g>`;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(o.title)}" font-family="system-ui, sans-serif">`,
    `<title>${escapeXml(o.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#dcebf5"/>`,
    `<path d="${graticule}" fill="none" stroke="#b8cfe0" stroke-width="0.6"/>`,
    `<path class="land" d="${path(landIn(scale, [[west, south], [east, north]])) ?? ''}" fill="#e8e2cf" stroke="#8c8468" stroke-width="0.7"/>`,
    track.length > 1 ? `<polyline points="${track.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" stroke="#1f5f99" stroke-width="1.5" stroke-dasharray="4 3"/>` : '',
    ...marks,
    `<g font-size="11" fill="#333"><rect x="16" y="${height - 30}" width="${(barPx + 8).toFixed(1)}" height="22" fill="#fff" opacity="0.75"/>`,
    `<line x1="20" y1="${height - 14}" x2="${(20 + barPx).toFixed(1)}" y2="${height - 14}" stroke="#333" stroke-width="2"/>`,
    `<text x="20" y="${height - 18}">${barKm >= 1 ? barKm : barKm.toFixed(1)} km</text></g>`,
    `<text x="${width - 6}" y="${height - 6}" text-anchor="end" font-size="9" fill="#666">Natural Earth outlines (world-atlas)</text>`,
    '</svg>',
  ].join('');
}
