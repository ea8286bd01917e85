/** Reading an asciicast v2 recording's markers ("m" events) for the playback page's list. */
export interface CastMarker {
  time: number;
  label: string;
}

/** The "m" events in order; lines that are not events (the header, a cut-off tail) are skipped. */
export function castMarkers(cast: string): CastMarker[] {
  const markers: CastMarker[] = [];
  const lines = cast.split('\n');
  for (const line of lines.slice(1)) {
    if (!line.startsWith('[')) continue;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      continue;
    }
    if (!Array.isArray(event) || event[1] !== 'm') continue;
    const [time, , label] = event as [unknown, unknown, unknown];
    if (typeof time === 'number' && Number.isFinite(time))
      markers.push({ time, label: typeof label === 'string' ? label : '' });
  }
  return markers;
}
