/**
 * The admission queue behind the scheduler: four FIFO levels (`critical`, `high`, `normal`, `low`), a holding
 * lane for submitters that found the queue full, round-robin between fairness keys within each lane, and aging
 * that promotes an entry one level each time it has waited `agingMillis` at its level.
 *
 * Every operation is O(1) (aging is amortized O(1) per promotion): entries are nodes of intrusive doubly linked
 * lists, so nothing is searched, sorted or copied, and removing a cancelled entry unlinks it at once. An entry
 * is one small object with a handful of fields, so a million waiters fit in memory.
 *
 * Structure: each {@link KeyGroup} (one per fairness key, plus one for entries without a key) keeps one FIFO per
 * lane. Each lane keeps a ring of the groups that have entries in it and may run now; {@link PriorityQueue.pop}
 * serves the most urgent non-empty ring and rotates it, so keys take turns. Each lane also keeps all of its
 * entries, whatever their group, in one list ordered by arrival in the lane: the head is the oldest, which is
 * where aging looks, and in the holding lane it is the next to be let into the queue.
 *
 * @example
 * ```ts
 * import { PriorityQueue } from "effect-orchestrator"
 *
 * const queue = new PriorityQueue.PriorityQueue<PriorityQueue.Entry>({ agingMillis: 1_000 })
 * const low = new PriorityQueue.Entry(3)
 * const high = new PriorityQueue.Entry(1)
 * queue.push(low, queue.group(undefined), 0)
 * queue.push(high, queue.group(undefined), 0)
 * queue.pop(10) === high // true: higher level first
 * queue.pop(10) === low // true
 * ```
 *
 * @since 0.1.0
 */

/** Number of priority levels; level 0 is the most urgent. */
export const levelCount = 4

/** The lane of entries that wait for room in the queue (after the four priority levels). */
export const holdingLane = 4

const laneCount = 5

/** A queued item. Subclass it to carry a payload; the queue only uses the fields declared here. */
export class Entry {
  /** The level the entry was submitted at (0 = critical … 3 = low). */
  readonly priority: number
  /** The lane the entry is in now: its priority, a more urgent level after aging, or {@link holdingLane}. */
  lane = -1
  /** When the entry reached its current lane; aging counts from here. */
  enteredAt = 0
  group: KeyGroup | undefined = undefined
  /** Neighbours in the entry's group, within its lane. Free for other uses once the entry is out of the queue. */
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  /** Neighbours in the lane's list of all entries, ordered by `enteredAt`. */
  older: Entry | undefined = undefined
  newer: Entry | undefined = undefined

  constructor(priority: number) {
    this.priority = priority
  }
}

/** The entries of one fairness key, and how many of its tasks run. */
export class KeyGroup {
  /** `undefined` for the group of entries submitted without a key. */
  readonly key: string | undefined
  /** Tasks of this key running now; maintained by the caller through {@link PriorityQueue.acquire}/`release`. */
  running = 0
  /** Entries of this key in the queue or the holding lane. */
  waiting = 0
  /** A blocked group is at its concurrency limit: its entries stay put and age, but are not served. */
  blocked = false
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  readonly heads: Array<Entry | undefined> = [undefined, undefined, undefined, undefined, undefined]
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  readonly tails: Array<Entry | undefined> = [undefined, undefined, undefined, undefined, undefined]
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  readonly ringNext: Array<KeyGroup | undefined> = [undefined, undefined, undefined, undefined, undefined]
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  readonly ringPrev: Array<KeyGroup | undefined> = [undefined, undefined, undefined, undefined, undefined]

  constructor(key: string | undefined) {
    this.key = key
  }
}

/**
 * Four priority levels plus a holding lane, with per-key FIFOs, round-robin between keys, per-key limits and
 * aging. Not thread-safe and not effectful: the scheduler drives it synchronously.
 */
export class PriorityQueue<E extends Entry> {
  /** Entries per lane: `depth[0..3]` are the priority levels, `depth[4]` the holding lane. */
  readonly depth: Array<number> = [0, 0, 0, 0, 0]
  /** Entries in the four priority levels (the holding lane excluded). */
  queued = 0
  /** Promotions made by aging since the queue was created. */
  promoted = 0
  readonly agingMillis: number
  /** Concurrency limit of each keyed group; entries without a key are not limited. */
  readonly perKeyLimit: number
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  private readonly oldest: Array<Entry | undefined> = [undefined, undefined, undefined, undefined, undefined]
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  private readonly newest: Array<Entry | undefined> = [undefined, undefined, undefined, undefined, undefined]
  /** Per lane, the group served next; the ring holds the unblocked groups with entries in that lane. */
  // Stryker disable next-line ArrayDeclaration: equivalent, an index past the end of [] reads undefined too (filled to start packed)
  private readonly rings: Array<KeyGroup | undefined> = [undefined, undefined, undefined, undefined, undefined]
  private readonly groups = new Map<string, KeyGroup>()
  /** The group of entries submitted without a key. */
  readonly anonymous = new KeyGroup(undefined)

  constructor(options: { readonly agingMillis: number; readonly perKeyLimit?: number | undefined }) {
    this.agingMillis = options.agingMillis
    this.perKeyLimit = options.perKeyLimit ?? Infinity
  }

  /** The group of `key`, created on first use; `undefined` gives the shared group of unkeyed entries. */
  group(key: string | undefined): KeyGroup {
    if (key === undefined) return this.anonymous
    let group = this.groups.get(key)
    if (group === undefined) {
      group = new KeyGroup(key)
      this.groups.set(key, group)
    }
    return group
  }

  /** Forgets a group that has nothing queued and nothing running, so short-lived keys do not accumulate. */
  dropIfIdle(group: KeyGroup): void {
    // Stryker disable next-line ConditionalExpression: equivalent, the map never holds the anonymous group (key undefined)
    if (group.running === 0 && group.waiting === 0 && group.key !== undefined) this.groups.delete(group.key)
  }

  /** Keyed groups known now (for tests and stats). */
  get groupCount(): number {
    return this.groups.size
  }

  /** Whether a task of `group` may start now as far as its key's limit goes. */
  canRun(group: KeyGroup): boolean {
    return group.key === undefined || group.running < this.perKeyLimit
  }

  /** Records that a task of `group` started; blocks the group when it reaches its limit. */
  acquire(group: KeyGroup): void {
    group.running++
    if (group.key !== undefined && group.running >= this.perKeyLimit && !group.blocked) this.setBlocked(group, true)
  }

  /** Records that a task of `group` ended; unblocks the group when it drops below its limit. */
  release(group: KeyGroup): void {
    group.running--
    if (group.blocked && group.running < this.perKeyLimit) this.setBlocked(group, false)
  }

  /** Appends `entry` to its priority level (`entry.priority`) and its group's FIFO. Ages the queue first. */
  push(entry: E, group: KeyGroup, now: number): void {
    this.age(now)
    entry.group = group
    entry.lane = entry.priority
    entry.enteredAt = now
    this.link(entry)
  }

  /** Appends `entry` to the holding lane (waiting for room in the queue). */
  hold(entry: E, group: KeyGroup, now: number): void {
    entry.group = group
    entry.lane = holdingLane
    entry.enteredAt = now
    this.link(entry)
  }

  /** Moves the oldest held entry into its priority level; returns it, or `undefined` when none is held. */
  admitHeld(now: number): E | undefined {
    const entry = this.oldest[holdingLane]
    if (entry === undefined) return undefined
    this.age(now)
    this.unlink(entry)
    entry.lane = entry.priority
    entry.enteredAt = now
    this.link(entry)
    return entry as E
  }

  /** Whether some entry of an unblocked group waits, in any lane. */
  hasEligible(): boolean {
    const rings = this.rings
    return rings[0] !== undefined || rings[1] !== undefined || rings[2] !== undefined ||
      rings[3] !== undefined || rings[4] !== undefined
  }

  /**
   * Removes and returns the entry to run next: from the most urgent level that has an unblocked group, the head
   * of the group whose turn it is; the ring then moves on to the next group. Held entries come last: they are
   * served only when no queued entry may run (all of their keys are at their limit), so a free permit is never
   * left idle. Ages the queue first.
   */
  pop(now: number): E | undefined {
    const entry = this.peek(now)
    if (entry !== undefined) this.take(entry)
    return entry
  }

  /** The entry {@link pop} would return, left in place. Ages the queue first. */
  peek(now: number): E | undefined {
    this.age(now)
    // Stryker disable next-line EqualityOperator: equivalent, lane 5 reads undefined from every per-lane array: a no-op
    for (let lane = 0; lane < laneCount; lane++) {
      const group = this.rings[lane]
      if (group !== undefined) return group.heads[lane] as E
    }
    return undefined
  }

  /** Removes the entry {@link peek} returned, as {@link pop} would: its lane's turn moves to the next group. */
  take(entry: E): void {
    const lane = entry.lane
    const group = entry.group!
    if (this.rings[lane] === group) this.rings[lane] = group.ringNext[lane]
    this.unlink(entry)
  }

  /** Removes `entry` from wherever it is in the queue. O(1). */
  remove(entry: E): void {
    if (entry.lane >= 0) this.unlink(entry)
  }

  /**
   * Promotes, level by level from `low` up, every entry that has been `agingMillis` at its level. A promoted
   * entry joins the tail of the next level as if it had arrived there when it became due, so levels stay in
   * arrival order and one call costs O(1) plus O(1) per promotion.
   */
  age(now: number): void {
    const aging = this.agingMillis
    for (let lane = levelCount - 1; lane >= 1; lane--) {
      let entry = this.oldest[lane]
      while (entry !== undefined && entry.enteredAt + aging <= now) {
        const due = entry.enteredAt + aging
        this.unlink(entry)
        entry.lane = lane - 1
        const tail = this.newest[lane - 1]
        // a clock set back by hand could make `due` older than the tail; keeping the tail's time keeps the order
        entry.enteredAt = tail === undefined ? due : Math.max(tail.enteredAt, due)
        this.link(entry)
        this.promoted++
        entry = this.oldest[lane]
      }
    }
  }

  /** Removes and returns every entry (queued and held), oldest first within each lane. Used at shutdown. */
  takeAll(): Array<E> {
    const all: Array<E> = []
    // Stryker disable next-line EqualityOperator: equivalent, lane 5 reads undefined from every per-lane array: a no-op
    for (let lane = 0; lane < laneCount; lane++) {
      let entry = this.oldest[lane]
      while (entry !== undefined) {
        const next = entry.newer
        this.unlink(entry)
        all.push(entry as E)
        entry = next
      }
    }
    return all
  }

  private setBlocked(group: KeyGroup, blocked: boolean): void {
    group.blocked = blocked
    // Stryker disable next-line EqualityOperator: equivalent, lane 5 reads undefined from every per-lane array: a no-op
    for (let lane = 0; lane < laneCount; lane++) {
      if (blocked) {
        if (group.ringNext[lane] !== undefined) this.leaveRing(lane, group)
      } else if (group.heads[lane] !== undefined) {
        // not in this ring yet: a blocked group left every ring, and `link` does not join one while blocked
        this.joinRing(lane, group)
      }
    }
  }

  private link(entry: Entry): void {
    const lane = entry.lane
    const group = entry.group!
    const tail = group.tails[lane]
    entry.prev = tail
    entry.next = undefined
    if (tail === undefined) group.heads[lane] = entry
    else tail.next = entry
    group.tails[lane] = entry
    const newest = this.newest[lane]
    entry.older = newest
    entry.newer = undefined
    if (newest === undefined) this.oldest[lane] = entry
    else newest.newer = entry
    this.newest[lane] = entry
    this.depth[lane]++
    if (lane !== holdingLane) this.queued++
    group.waiting++
    if (!group.blocked && group.ringNext[lane] === undefined) this.joinRing(lane, group)
  }

  private unlink(entry: Entry): void {
    const lane = entry.lane
    const group = entry.group!
    const { next, prev } = entry
    if (prev === undefined) group.heads[lane] = next
    else prev.next = next
    if (next === undefined) group.tails[lane] = prev
    else next.prev = prev
    const { newer, older } = entry
    if (older === undefined) this.oldest[lane] = newer
    else older.newer = newer
    if (newer === undefined) this.newest[lane] = older
    else newer.older = older
    entry.prev =
      entry.next =
      entry.older =
      entry.newer =
        undefined
    entry.lane = -1
    this.depth[lane]--
    if (lane !== holdingLane) this.queued--
    group.waiting--
    if (group.heads[lane] === undefined && group.ringNext[lane] !== undefined) this.leaveRing(lane, group)
  }

  /** Inserts `group` just before the ring's current head: it is served after every group already waiting. */
  private joinRing(lane: number, group: KeyGroup): void {
    const head = this.rings[lane]
    if (head === undefined) {
      group.ringNext[lane] = group
      group.ringPrev[lane] = group
      this.rings[lane] = group
      return
    }
    const last = head.ringPrev[lane]!
    last.ringNext[lane] = group
    group.ringPrev[lane] = last
    group.ringNext[lane] = head
    head.ringPrev[lane] = group
  }

  private leaveRing(lane: number, group: KeyGroup): void {
    const next = group.ringNext[lane]!
    if (next === group) {
      this.rings[lane] = undefined
    } else {
      const prev = group.ringPrev[lane]!
      prev.ringNext[lane] = next
      next.ringPrev[lane] = prev
      if (this.rings[lane] === group) this.rings[lane] = next
    }
    group.ringNext[lane] = undefined
    group.ringPrev[lane] = undefined
  }
}
