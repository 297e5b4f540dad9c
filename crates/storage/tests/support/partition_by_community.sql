-- The request tables hash-partitioned by community, as a database sharded by community holds
-- them (docs/SCALE.md): run on a migrated PostgreSQL schema by the conformance suite's
-- `postgres_partitioned` backend, which then runs every test against it.
--
-- Each table is rebuilt as a partitioned table of four partitions with its columns, defaults
-- and checks; its indexes are made again on it; a primary key or a unique index that lacks
-- `community_id` gets it appended (the rule of partitioned tables, and of Citus: a unique
-- constraint includes the distribution column). Foreign keys from these tables are made again;
-- foreign keys to them from a table that carries `community_id` reference the key with it; a
-- foreign key to them from a table without it cannot be kept and is dropped (co_handlers,
-- listed in docs/SCALE.md). The rebuild is generic over what the migrations made, so a later
-- migration's index or key is partitioned too, or the rebuild fails.
DO $$
DECLARE
    partitioned CONSTANT text[] := ARRAY['tickets', 'events', 'timers', 'outbox', 'ledger', 'photos'];
    t text;
    i int;
    ix record;
    fk record;
    indexes text[];
    foreign_from text[];
    foreign_to text[];
    primary_key text;
    def text;
BEGIN
    -- What refers to the tables, taken before they are renamed.
    foreign_to := ARRAY(
        SELECT format('%s|%s|%s|%s', c.conrelid::regclass, c.conname, c.confrelid::regclass,
            pg_get_constraintdef(c.oid))
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.confrelid::regclass::text = ANY (partitioned));

    FOREACH t IN ARRAY partitioned LOOP
        SELECT pg_get_constraintdef(c.oid) INTO primary_key
        FROM pg_constraint c WHERE c.conrelid = t::regclass AND c.contype = 'p';
        indexes := ARRAY(
            SELECT indexdef FROM pg_indexes
            WHERE schemaname = current_schema() AND tablename = t
                AND indexname NOT IN (SELECT conname FROM pg_constraint
                                      WHERE conrelid = t::regclass AND contype = 'p'));
        foreign_from := ARRAY(
            SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
            WHERE c.conrelid = t::regclass AND c.contype = 'f'
                AND NOT (c.confrelid::regclass::text = ANY (partitioned)));

        EXECUTE format('ALTER TABLE %I RENAME TO %I', t, t || '_unpartitioned');
        EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
            'INCLUDING GENERATED INCLUDING STORAGE) PARTITION BY HASH (community_id)',
            t, t || '_unpartitioned');
        FOR i IN 0..3 LOOP
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS 4, REMAINDER %s)',
                t || '_p' || i, t, i);
        END LOOP;
        EXECUTE format('INSERT INTO %I SELECT * FROM %I', t, t || '_unpartitioned');
        EXECUTE format('DROP TABLE %I CASCADE', t || '_unpartitioned');

        IF primary_key NOT LIKE '%community_id%' THEN
            primary_key := regexp_replace(primary_key, '\)$', ', community_id)');
        END IF;
        EXECUTE format('ALTER TABLE %I ADD %s', t, primary_key);
        FOREACH def IN ARRAY indexes LOOP
            IF def LIKE 'CREATE UNIQUE INDEX%' AND def NOT LIKE '%community_id%' THEN
                def := regexp_replace(def, '(USING \w+ \([^)]*)\)', '\1, community_id)');
            END IF;
            -- Taken before the rename, the definition names the new table.
            EXECUTE def;
        END LOOP;
        FOREACH def IN ARRAY foreign_from LOOP
            EXECUTE format('ALTER TABLE %I ADD %s', t, def);
        END LOOP;
    END LOOP;

    FOREACH def IN ARRAY foreign_to LOOP
        SELECT split_part(def, '|', 1) AS source, split_part(def, '|', 2) AS name,
            split_part(def, '|', 3) AS target, split_part(def, '|', 4) AS definition
        INTO fk;
        IF EXISTS (SELECT 1 FROM information_schema.columns
                   WHERE table_schema = current_schema() AND table_name = fk.source
                       AND column_name = 'community_id') THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I %s', fk.source, fk.name,
                regexp_replace(regexp_replace(fk.definition,
                    '^FOREIGN KEY \(([^)]*)\)', 'FOREIGN KEY (\1, community_id)'),
                    '\(([^)]*)\)$', '(\1, community_id)'));
        ELSE
            RAISE NOTICE 'dropped: % (% has no community_id)', fk.name, fk.source;
        END IF;
    END LOOP;
END
$$;
