/** Topics of the `/api/v1/live` socket: each is a bus subject and a rule for who may see what. */
import type { Principal } from '../auth/principal.ts';
import type { BusPayload } from '../bus/bus.ts';

export interface LiveTopic {
  /** What the client names in `{"type":"subscribe","topics":[…]}` and finds in each message. */
  name: string;
  /** Bus subject carrying the topic's events (JSON payloads). */
  subject: string;
  /** Decided by the visibility module's rules; an event the caller may not see is skipped. */
  visible(principal: Principal, payload: BusPayload): boolean;
}

/** One per endpoint process, filled by the feature modules as they register their routes. */
export class LiveTopics {
  private readonly topics = new Map<string, LiveTopic>();

  add(topic: LiveTopic): void {
    if (this.topics.has(topic.name)) throw new Error(`live topic ${topic.name} registered twice`);
    this.topics.set(topic.name, topic);
  }

  get(name: string): LiveTopic | undefined {
    return this.topics.get(name);
  }

  names(): string[] {
    return [...this.topics.keys()];
  }
}
