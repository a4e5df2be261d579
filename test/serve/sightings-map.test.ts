import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { sightingsMapSvg } from '../../src/serve/sightings-map.js';

/** Shares of the rendered map's pixels in the sea colour and the land colour. */
async function seaAndLand(svg: string): Promise<{ sea: number; land: number }> {
  const { data, info } = await sharp(Buffer.from(svg)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let sea = 0;
  let land = 0;
  for (let i = 0; i < data.length; i += 3) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (Math.abs(r - 0xdc) < 6 && Math.abs(g - 0xeb) < 6 && Math.abs(b - 0xf5) < 6) sea++;
    if (Math.abs(r - 0xe8) < 6 && Math.abs(g - 0xe2) < 6 && Math.abs(b - 0xcf) < 6) land++;
  }
  const n = info.width * info.height;
  return { sea: sea / n, land: land / n };
}

describe('sightings map (offline outlines)', () => {
  it('draws a coast with land on one side and sea on the other, at every outline scale', async () => {
    // Hervey Bay (fine 10m outlines), eastern Australia (50m), Australia to Iceland (110m)
    const areas = [
      [{ latitude: -25.1, longitude: 152.9 }, { latitude: -24.8, longitude: 153.2 }],
      [{ latitude: -25.1, longitude: 152.9 }, { latitude: -33.9, longitude: 151.3 }],
      [{ latitude: -25.1, longitude: 152.9 }, { latitude: 64.1, longitude: -21.9 }],
    ];
    for (const points of areas) {
      const svg = sightingsMapSvg(points.map((p, i) => ({ ...p, label: `sighting ${i}` })), { width: 320, height: 180, title: 'test' });
      const { sea, land } = await seaAndLand(svg);
      expect(sea, JSON.stringify(points)).toBeGreaterThan(0.15);
      expect(land, JSON.stringify(points)).toBeGreaterThan(0.1);
      expect(svg.match(/<g class="sighting"/g)).toHaveLength(points.length);
    }
  });

  it('escapes labels and shows the world when nothing has a position', () => {
    const svg = sightingsMapSvg([{ latitude: 10, longitude: 10, label: '<script>x</script>"' }], { width: 320, height: 180, title: 'a & b' });
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&#60;script&#62;');
    expect(sightingsMapSvg([], { width: 320, height: 180, title: 'none' })).toMatch(/<path class="land" d="M/);
  });
});
