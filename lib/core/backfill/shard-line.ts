/** The normalized shard line: always JSONL, always with the image id, so workers, loaders and re-runs agree on identities. */
import type { ShardEntry } from '../types';

export function toShardLine(entry: ShardEntry): string {
  return JSON.stringify({
    uri: entry.uri,
    image_id: entry.imageId,
    ...(entry.hotelId !== undefined ? { hotel_id: entry.hotelId } : {}),
    ...(entry.hotelName !== undefined ? { hotel_name: entry.hotelName } : {}),
    ...(entry.city !== undefined ? { city: entry.city } : {}),
  });
}
