// Where a time axis puts its ticks: on round local times of the shown zone (local
// midnight, 06:00, 12:00 ... in Seoul), not on round UTC times, which in Seoul fall at
// 09:00. No imports: the tests run it under Node.

const MINUTE = 60 * 1000;
export const DAY = 24 * 60 * MINUTE;
// Tick spacings in minutes; the axis takes the first that leaves enough room per label.
export const STEPS = [15, 30, 60, 120, 180, 360, 720, 1440, 2880].map((m) => m * MINUTE);

const offsetFormats = new Map();

// The zone's offset from UTC at the instant t, in milliseconds (+9 h in Asia/Seoul).
export function offsetAt(t, timeZone) {
  if (!offsetFormats.has(timeZone)) {
    offsetFormats.set(timeZone, new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "numeric", second: "numeric",
    }));
  }
  const parts = Object.fromEntries(
    offsetFormats.get(timeZone).formatToParts(t).map((part) => [part.type, Number(part.value)]),
  );
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

// The ticks between start and end (epoch ms) every `step` of local time in `timeZone`:
// [{t, midnight}], midnight true where the tick is a local midnight.
export function localTicks(start, end, step, timeZone) {
  const ticks = [];
  let offset = offsetAt(start, timeZone);
  for (let local = Math.ceil((start + offset) / step) * step; ; local += step) {
    offset = offsetAt(local - offset, timeZone);  // follows a change of offset (summer time)
    const t = local - offset;
    if (t > end) break;
    if (t >= start) ticks.push({ t, midnight: ((local % DAY) + DAY) % DAY === 0 });
  }
  return ticks;
}
