import { produce, setAutoFreeze } from 'immer';

// Why: auto-freeze multiplies the cost of every `assign` by ~4 (DESIGN.md, measured) and XState
// never mutates snapshots anyway. `setAutoFreeze` is global to the immer module: every importer
// of machines/ gets it off. Tests that want freezing can call `setAutoFreeze(true)` themselves.
setAutoFreeze(false);

export { produce };
