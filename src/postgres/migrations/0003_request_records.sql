-- The request recorder shared by replicas: every replica's requests in one ring, bounded
-- by record count (the oldest beyond the capacity are deleted as new ones arrive).
CREATE SEQUENCE request_record_seq;
CREATE TABLE request_records (
    seq    bigint PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL,
    record text NOT NULL              -- the record's JSON, as served (its seq is the column's)
);
