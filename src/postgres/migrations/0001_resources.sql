-- SCIM resources of every tenant, with what the sled store keeps in its trees.
-- Text compared byte-wise (COLLATE "C") so ids and index values sort as in sled.

CREATE TABLE resources (
    tenant      text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,              -- 'U' User, 'G' Group
    id          text COLLATE "C" NOT NULL,
    version     bigint NOT NULL,              -- the ETag; compare-and-swap on update
    seq         bigint NOT NULL,
    created     text NOT NULL,
    modified    text NOT NULL,
    doc         text NOT NULL,                -- the resource's JSON without id/meta/members
    index_keys  text NOT NULL,
    unique_keys text NOT NULL,
    PRIMARY KEY (tenant, kind, id)
);

-- Indexed attributes (eq and prefix lookups): one row per (attribute, normalised value).
CREATE TABLE index_entries (
    tenant text COLLATE "C" NOT NULL,
    kind   text COLLATE "C" NOT NULL,
    attr   text COLLATE "C" NOT NULL,
    value  text COLLATE "C" NOT NULL,
    id     text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, kind, attr, value, id)
);

-- Uniqueness (userName, Group displayName, ...): the primary key is the guarantee, so two
-- replicas creating the same normalised value race in the database, not in a read.
CREATE TABLE unique_entries (
    tenant text COLLATE "C" NOT NULL,
    kind   text COLLATE "C" NOT NULL,
    attr   text COLLATE "C" NOT NULL,
    value  text COLLATE "C" NOT NULL,
    id     text COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant, kind, attr, value)
);

-- One row per membership: adding a member to a 100k-member group writes one row.
CREATE TABLE members (
    tenant    text COLLATE "C" NOT NULL,
    group_id  text COLLATE "C" NOT NULL,
    member_id text COLLATE "C" NOT NULL,
    entry     text NOT NULL,
    PRIMARY KEY (tenant, group_id, member_id)
);
-- The reverse lookup behind User.groups.
CREATE INDEX members_by_member ON members (tenant, member_id, group_id);

CREATE SEQUENCE change_seq;
CREATE TABLE changes (
    tenant  text COLLATE "C" NOT NULL,
    seq     bigint NOT NULL,
    kind    text COLLATE "C" NOT NULL,
    id      text COLLATE "C" NOT NULL,
    deleted boolean NOT NULL,
    PRIMARY KEY (tenant, seq)
);

-- Tenants created through the admin API, with their settings.
CREATE TABLE tenant_definitions (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);
