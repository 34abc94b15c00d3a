// Where the case map puts each stay's numbered badge so that no two cover one another:
// the rule report.html follows (report.pathmap.badge_offsets, report.js). Badges nearer
// than two radii and a gap are piled around the first stay of their pile in a sunflower,
// in seq order from the centre out; piles whose reaches overlap are merged until none
// do. So any two badge centres are at least 2 * RADIUS + GAP = 20 px apart on screen.
export const BADGE_RADIUS_PX = 9; // a badge is 18 px wide
export const BADGE_GAP_PX = 2;
const PILE_SPACING_PX = 13; // sunflower neighbours end up >= 20.1 px apart
const GOLDEN_ANGLE = Math.PI * (3 - Math.sqrt(5));

function sunflower(i) {
  const r = PILE_SPACING_PX * Math.sqrt(i + 0.5);
  return [r * Math.cos(i * GOLDEN_ANGLE), r * Math.sin(i * GOLDEN_ANGLE)];
}

// How far from its anchor a pile of `size` badges reaches, in pixels.
function reach(size) {
  return (size > 1 ? PILE_SPACING_PX * Math.sqrt(size - 0.5) : 0) + BADGE_RADIUS_PX;
}

function overlapping(a, b) {
  const gap = reach(a.length) + reach(b.length) + BADGE_GAP_PX;
  return Math.hypot(a[0].x - b[0].x, a[0].y - b[0].y) < gap;
}

// `points`: [{seq, x, y}] on screen (pixels, y down). Returns a Map seq -> [dx, dy], the
// badge's offset in pixels from its stay's own point ([0, 0] for a badge left alone).
export function badgeOffsets(points) {
  const piles = [...points].sort((a, b) => a.seq - b.seq).map((p) => [p]);
  for (let i = 0; i < piles.length;) {
    let grown = false;
    for (let j = i + 1; j < piles.length;) {
      if (overlapping(piles[i], piles[j])) {
        piles[i] = piles[i].concat(piles.splice(j, 1)[0]).sort((a, b) => a.seq - b.seq);
        grown = true;
      } else {
        j += 1;
      }
    }
    i = grown ? 0 : i + 1; // a grown pile reaches further: check the ones before it again
  }
  const offsets = new Map();
  for (const pile of piles) {
    const anchor = pile[0];
    pile.forEach((p, i) => {
      const [dx, dy] = pile.length > 1 ? sunflower(i) : [0, 0];
      offsets.set(p.seq, [anchor.x - p.x + dx, anchor.y - p.y + dy]);
    });
  }
  return offsets;
}
