/**
 * An immutable set of task slots (non-negative integers), iterated in ascending order: a
 * three-level trie (groups of leaves of sorted slots) shaped like `RunContext.buckets`, so a
 * change copies one leaf (≤ LEAF_SPAN slots), one group (GROUP_SPAN leaves) and the short group
 * list — never the whole set — and every older version stays as it was.
 */
export interface SlotSet {
  readonly size: number;
  readonly groups: readonly (SlotGroup | undefined)[];
}

interface SlotGroup {
  readonly size: number;
  readonly leaves: readonly (readonly number[] | undefined)[];
}

const LEAF_SPAN = 128;
const GROUP_SPAN = 64;

/** The empty set. */
export const EMPTY_SLOT_SET: SlotSet = { size: 0, groups: [] };

/** Where `slot` goes: its group, its leaf in the group. */
function place(slot: number): { group: number; leaf: number } {
  const leaf = Math.floor(slot / LEAF_SPAN);
  return { group: Math.floor(leaf / GROUP_SPAN), leaf: leaf % GROUP_SPAN };
}

/** Index of `slot` in a sorted leaf, or where it would go (bitwise-not of it) when absent. */
function search(leaf: readonly number[], slot: number): number {
  let lo = 0;
  let hi = leaf.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const value = leaf[mid] as number;
    if (value === slot) return mid;
    if (value < slot) lo = mid + 1;
    else hi = mid;
  }
  return ~lo;
}

/** True when `slot` is in the set. */
export function hasSlot(set: SlotSet, slot: number): boolean {
  const { group, leaf } = place(slot);
  const slots = set.groups[group]?.leaves[leaf];
  return slots !== undefined && search(slots, slot) >= 0;
}

/** The slots in ascending order. */
export function* slotsOf(set: SlotSet): Generator<number> {
  if (set.size === 0) return;
  for (const group of set.groups) {
    if (group === undefined || group.size === 0) continue;
    for (const leaf of group.leaves) if (leaf !== undefined) yield* leaf;
  }
}

/** Mutable copies made by one edit, so a batch copies each touched node once. */
interface Draft {
  groups: (SlotGroup | undefined)[];
  groupsCopied: Set<number>;
  leavesCopied: Set<number>;
  size: number;
}

/**
 * Applies a batch of additions and deletions to `set`, returning a new version (or `set` itself
 * when nothing changed). `edit` receives `add` and `remove`; `set` is left untouched.
 */
export function editSlotSet(set: SlotSet, edit: (add: (slot: number) => void, remove: (slot: number) => void) => void): SlotSet {
  let draft: Draft | undefined;
  const leafOf = (slot: number, create: boolean): { leaf: number[]; draft: Draft } | undefined => {
    const { group, leaf } = place(slot);
    const before = (draft?.groups ?? set.groups)[group]?.leaves[leaf];
    if (before === undefined && !create) return undefined;
    draft ??= { groups: set.groups.slice(), groupsCopied: new Set(), leavesCopied: new Set(), size: set.size };
    let groupNode = draft.groups[group];
    if (!draft.groupsCopied.has(group)) {
      groupNode = { size: groupNode?.size ?? 0, leaves: groupNode?.leaves.slice() ?? [] };
      draft.groups[group] = groupNode;
      draft.groupsCopied.add(group);
    }
    const leaves = (groupNode as SlotGroup).leaves as (number[] | undefined)[];
    const key = group * GROUP_SPAN + leaf;
    if (!draft.leavesCopied.has(key)) {
      leaves[leaf] = leaves[leaf]?.slice() ?? [];
      draft.leavesCopied.add(key);
    }
    return { leaf: leaves[leaf] as number[], draft };
  };
  const resize = (d: Draft, slot: number, by: number): void => {
    const group = d.groups[place(slot).group] as { size: number };
    group.size += by;
    d.size += by;
  };
  const add = (slot: number): void => {
    if (hasSlot(draft ?? set, slot)) return;
    const target = leafOf(slot, true) as { leaf: number[]; draft: Draft };
    target.leaf.splice(~search(target.leaf, slot), 0, slot);
    resize(target.draft, slot, 1);
  };
  const remove = (slot: number): void => {
    if (!hasSlot(draft ?? set, slot)) return;
    const target = leafOf(slot, false) as { leaf: number[]; draft: Draft };
    target.leaf.splice(search(target.leaf, slot), 1);
    resize(target.draft, slot, -1);
  };
  edit(add, remove);
  return draft === undefined ? set : { size: draft.size, groups: draft.groups };
}
