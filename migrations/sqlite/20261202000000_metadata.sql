-- The registry's signed metadata (TUF's root, snapshot and timestamp roles; see
-- `registry-server/src/metadata`). Each row holds the exact bytes served under `/index/`:
-- the canonical JSON whose length and SHA-256 the next role lists. Versions only grow:
-- a root is added, never replaced, and the current snapshot and timestamp are replaced
-- only by a higher version (checked by the statements that write them).

-- `N.root.json`, each signed by the previous root's threshold and its own.
CREATE TABLE metadata_roots (
    version     INTEGER PRIMARY KEY CHECK (version >= 1),
    document    BLOB NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- The current `snapshot.json` and `timestamp.json`.
CREATE TABLE metadata_current (
    role        TEXT PRIMARY KEY CHECK (role IN ('snapshot', 'timestamp')),
    version     INTEGER NOT NULL CHECK (version >= 1),
    document    BLOB NOT NULL,
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
