-- The registry's state: users and their tokens and keys, packs, owners and versions.
-- Times are RFC 3339 UTC text. Blobs live on disk under data/blobs/sha256/, named by digest.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    login       TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

-- A token is `mbr_<public_id>_<secret>`; only SHA-256(secret) is stored.
CREATE TABLE tokens (
    id            INTEGER PRIMARY KEY,
    public_id     TEXT NOT NULL UNIQUE,
    user_id       INTEGER NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    secret_hash   BLOB NOT NULL,
    scopes        TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    last_used_at  TEXT,
    revoked_at    TEXT
);

CREATE TABLE keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id),
    public_key   TEXT NOT NULL UNIQUE,
    fingerprint  TEXT NOT NULL,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    revoked_at   TEXT
);

CREATE TABLE packs (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    title        TEXT NOT NULL,
    kind         TEXT NOT NULL,
    domain       TEXT,
    description  TEXT,
    license      TEXT,
    base         TEXT,
    readme       TEXT,
    downloads    INTEGER NOT NULL DEFAULT 0,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);

CREATE TABLE owners (
    pack_id  INTEGER NOT NULL REFERENCES packs(id),
    user_id  INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (pack_id, user_id)
);

-- `record` is the version's sparse-index line with `yanked` taken from the column.
CREATE TABLE versions (
    id            INTEGER PRIMARY KEY,
    pack_id       INTEGER NOT NULL REFERENCES packs(id),
    num           TEXT NOT NULL,
    record        TEXT NOT NULL,
    cksum         TEXT NOT NULL,
    size          INTEGER NOT NULL,
    key_id        INTEGER NOT NULL REFERENCES keys(id),
    publisher_id  INTEGER NOT NULL REFERENCES users(id),
    yanked        INTEGER NOT NULL DEFAULT 0,
    downloads     INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (pack_id, num)
);

CREATE INDEX versions_by_cksum ON versions (cksum);
