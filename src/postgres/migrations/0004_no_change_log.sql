-- Nothing read the change log; every write paid an insert into it. The sequence stays:
-- it still numbers each resource's writes (resources.seq).
DROP TABLE IF EXISTS changes;
