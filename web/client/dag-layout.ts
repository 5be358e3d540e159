// Which boxes the DAG draws (a task, or a fan-out folded into one group) and where dagre puts them.
import dagre from '@dagrejs/dagre';
import type { Task } from './shared.ts';

/** Fan-outs this large (same dependencies, same name stem) are drawn as one group with counts. */
export const GROUP_MIN = 8;

/** One box of the drawing. */
export interface DagNode {
  key: string;
  /** The task's id, or for a group the tasks it holds. */
  taskIds: string[];
  group: boolean;
  label: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The laid out drawing. */
export interface DagLayout {
  nodes: DagNode[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

const NODE_W = 150;
const NODE_H = 34;
const GROUP_H = 52;

/** `screen_0042` → `screen_`: the name a fan-out's tasks share. */
function stemOf(id: string): string {
  return id.replace(/\d+$/, '');
}

/** Folds each large fan-out into one node key; other tasks keep their own. */
export function nodeKeys(tasks: readonly Task[]): Map<string, string> {
  const buckets = new Map<string, string[]>();
  for (const task of tasks) {
    const bucket = `${stemOf(task.id)}|${[...task.dependencies].sort().join(',')}`;
    const list = buckets.get(bucket) ?? [];
    list.push(task.id);
    buckets.set(bucket, list);
  }
  const keys = new Map<string, string>();
  for (const [bucket, ids] of buckets) {
    const grouped = ids.length >= GROUP_MIN;
    for (const id of ids) keys.set(id, grouped ? `group:${bucket}` : `task:${id}`);
  }
  return keys;
}

/** Lays the tasks out left to right with dagre, fan-outs folded into groups. */
export function layoutDag(tasks: readonly Task[]): DagLayout {
  const keys = nodeKeys(tasks);
  const members = new Map<string, string[]>();
  for (const task of tasks) {
    const key = keys.get(task.id) as string;
    const list = members.get(key);
    // Pushed, not copied: a 10,000-task fan-out is one group.
    if (list === undefined) members.set(key, [task.id]);
    else list.push(task.id);
  }
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 48, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const [key, ids] of members) graph.setNode(key, { width: NODE_W, height: key.startsWith('group:') ? GROUP_H : NODE_H, ids });
  const edges = new Set<string>();
  for (const task of tasks) {
    const to = keys.get(task.id) as string;
    for (const dep of task.dependencies) {
      const from = keys.get(dep);
      if (from === undefined || from === to || edges.has(`${from}\n${to}`)) continue;
      edges.add(`${from}\n${to}`);
      graph.setEdge(from, to);
    }
  }
  dagre.layout(graph);
  const nodes: DagNode[] = [...members].map(([key, ids]) => {
    const box = graph.node(key);
    const group = key.startsWith('group:');
    return { key, taskIds: ids, group, label: group ? `${stemOf(ids[0] as string)}* ×${ids.length}` : (ids[0] as string), x: box.x, y: box.y, width: box.width, height: box.height };
  });
  const lines = graph.edges().map((e) => ({ from: e.v, to: e.w, points: graph.edge(e).points ?? [] }));
  const size = graph.graph();
  return { nodes, edges: lines, width: size.width ?? 0, height: size.height ?? 0 };
}
