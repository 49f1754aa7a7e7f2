-- Hosted provisioning jobs' state, shared by the replicas that host the same job: one of
-- them runs its cycles at a time (an advisory lock), any of them answers about it.

-- The job record ('job') and the configuration set over the Graph API ('configuration').
CREATE TABLE job_records (
    job   text COLLATE "C" NOT NULL,
    name  text COLLATE "C" NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (job, name)
);

-- Links, watermarks and escrows: kind 'U' or 'G', keyed by the source object's id.
CREATE TABLE job_links (
    job       text COLLATE "C" NOT NULL,
    kind      text COLLATE "C" NOT NULL,
    source_id text COLLATE "C" NOT NULL,
    value     text NOT NULL,
    PRIMARY KEY (job, kind, source_id)
);

CREATE TABLE job_watermarks (
    job         text COLLATE "C" NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    source_id   text COLLATE "C" NOT NULL,
    fingerprint text NOT NULL,
    PRIMARY KEY (job, kind, source_id)
);

CREATE TABLE job_escrows (
    job       text COLLATE "C" NOT NULL,
    kind      text COLLATE "C" NOT NULL,
    source_id text COLLATE "C" NOT NULL,
    value     text NOT NULL,
    PRIMARY KEY (job, kind, source_id)
);

-- Provisioning logs, in append order; `at` (Unix seconds of activityDateTime) drives retention.
CREATE SEQUENCE job_log_seq;
CREATE TABLE job_logs (
    job   text COLLATE "C" NOT NULL,
    seq   bigint NOT NULL,
    at    bigint,
    value text NOT NULL,
    PRIMARY KEY (job, seq)
);
