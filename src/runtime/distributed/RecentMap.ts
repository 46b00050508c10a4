/**
 * A map that keeps at most `capacity` entries and forgets the oldest insertion first: the producer's recent
 * outcomes (for awaits that begin after the result came) and the consumer's recent cancellations.
 *
 * Structure: a `Map` from key to node, and the nodes in a doubly linked list in insertion order (a key set again
 * keeps its place; one deleted and set again goes to the end), so the oldest is the list's head. Every operation
 * is O(1). It behaves exactly like a `Map` that deletes `map.keys().next().value` when it grows past `capacity`.
 *
 * Why not that bare `Map`: V8 leaves a hole in a `Map`'s table for each deleted entry until the table is rebuilt,
 * and an iterator has to step over the holes at the front, so that eviction costs O(deleted). With 20,000 entries
 * and one insertion and one eviction per job it took **19–21 µs per job** (Node 24, 2-core VM), more than all
 * the rest of the producer's work on a job's result.
 *
 * @internal
 */
interface Node<K, V> {
  readonly key: K
  value: V
  older: Node<K, V> | undefined
  newer: Node<K, V> | undefined
}

export class RecentMap<K, V> {
  readonly #nodes = new Map<K, Node<K, V>>()
  #oldest: Node<K, V> | undefined = undefined
  #newest: Node<K, V> | undefined = undefined

  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get size(): number {
    return this.#nodes.size
  }

  get(key: K): V | undefined {
    return this.#nodes.get(key)?.value
  }

  has(key: K): boolean {
    return this.#nodes.has(key)
  }

  /** Sets the value; a new key goes last, and past `capacity` the oldest is dropped. A key there keeps its place. */
  set(key: K, value: V): void {
    const existing = this.#nodes.get(key)
    if (existing !== undefined) {
      existing.value = value
      return
    }
    const node: Node<K, V> = { key, value, older: this.#newest, newer: undefined }
    if (this.#newest === undefined) this.#oldest = node
    else this.#newest.newer = node
    this.#newest = node
    this.#nodes.set(key, node)
    if (this.#nodes.size > this.capacity) this.delete(this.#oldest!.key)
  }

  delete(key: K): boolean {
    const node = this.#nodes.get(key)
    if (node === undefined) return false
    this.#nodes.delete(key)
    if (node.older === undefined) this.#oldest = node.newer
    else node.older.newer = node.newer
    if (node.newer === undefined) this.#newest = node.older
    else node.newer.older = node.older
    return true
  }

  /** The keys, oldest first. */
  *keys(): IterableIterator<K> {
    for (let node = this.#oldest; node !== undefined; node = node.newer) yield node.key
  }
}
