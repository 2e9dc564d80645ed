-- A lesson, not part of the lab's schema: labkit setup does not apply this file;
-- notebook 03 does (labkit.notebook.run_lesson), to show the pooled-connection
-- leak. The policy below has the lab text's shape: it trusts app.current_store_id
-- as it finds it, set by anyone, for a transaction or for the whole session.
-- The lab's own policies (sql/04_security.sql) ignore that same setting.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'retail_lesson') THEN
        CREATE SCHEMA retail_lesson AUTHORIZATION retail_owner;
    END IF;
END
$$;
SET LOCAL ROLE retail_owner;
SET LOCAL search_path = pg_catalog, public;

CREATE TABLE IF NOT EXISTS retail_lesson.store_notes (
    store_id  varchar(50) NOT NULL REFERENCES retail.stores (store_id),
    note      text        NOT NULL,
    PRIMARY KEY (store_id, note)
);
INSERT INTO retail_lesson.store_notes (store_id, note)
SELECT s.store_id, 'supplier discount code for ' || s.store_id FROM retail.stores AS s
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'retail_lesson.store_notes'::regclass) THEN
        ALTER TABLE retail_lesson.store_notes ENABLE ROW LEVEL SECURITY;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies WHERE schemaname = 'retail_lesson'
                   AND tablename = 'store_notes' AND policyname = 'lab_text_isolation') THEN
        CREATE POLICY lab_text_isolation ON retail_lesson.store_notes
            USING (store_id = current_setting('app.current_store_id'));
    END IF;
END
$$;
GRANT USAGE ON SCHEMA retail_lesson TO retail_app;
GRANT SELECT ON retail_lesson.store_notes TO retail_app;
