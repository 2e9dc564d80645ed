-- Row-level security: every store sees and changes only its own rows.
--
-- The lab text gets this subtly wrong (SPEC defect 8): the owner and superusers
-- bypass RLS unless tables are FORCEd; set_config(..., false) is session-wide,
-- so a pooled connection carries one store's context into the next request;
-- any session can SET app.current_store_id itself, so the context is only as
-- strict as the code that sets it; SECURITY DEFINER functions without a fixed
-- search_path can be hijacked; its audit trigger fails on every insert (SPEC
-- defect 3).
--
-- The rule here fails closed: retail.current_store_id() names a store only for
-- a store login (its own) and for a role listed in retail_audit.store_choosers
-- (mcp_user) inside a transaction in which retail.set_store_context() chose the
-- store. Every other role, group or SET ROLE target gets NULL, which matches no
-- row.
--
-- Statements that take strong table locks (ENABLE/FORCE, CREATE POLICY) run only
-- when their object is missing, so a second setup neither changes anything nor
-- waits for other sessions' locks.

-- section: temporary
-- Temporary tables outlive a transaction and a pooled request: an application
-- role could stash one store's rows in one and read them in the next request on
-- the same connection. They need the TEMPORARY privilege on the database, which
-- PostgreSQL grants to PUBLIC; only the owner keeps it (backup recovery stages
-- rows in a temporary table). The database's owner (the administrator) may
-- always create them.
DO $$
BEGIN
    IF pg_catalog.has_database_privilege('public', pg_catalog.current_database(), 'TEMPORARY') THEN
        EXECUTE pg_catalog.format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', pg_catalog.current_database());
    END IF;
    IF NOT pg_catalog.has_database_privilege('retail_owner', pg_catalog.current_database(), 'TEMPORARY') THEN
        EXECUTE pg_catalog.format('GRANT TEMPORARY ON DATABASE %I TO retail_owner', pg_catalog.current_database());
    END IF;
END
$$;

-- section: upgrade
-- A database made by an earlier version of this file: retail.audit_store_context()
-- let any member of retail_app log a context switch that never happened; retire
-- it. (An intermediate version gave the context functions to retail_audit; they
-- are retail_owner's again, thin wrappers over retail_audit's.)
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOREACH f IN ARRAY ARRAY[pg_catalog.to_regprocedure('retail.current_store_id()'),
                             pg_catalog.to_regprocedure('retail.set_store_context(varchar)')]
    LOOP
        IF f IS NOT NULL AND (SELECT p.proowner FROM pg_catalog.pg_proc AS p WHERE p.oid = f) <> 'retail_owner'::regrole THEN
            EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO retail_owner', f);
        END IF;
    END LOOP;
    DROP FUNCTION IF EXISTS retail.audit_store_context();
    DROP FUNCTION IF EXISTS retail.refuse_audit_change();
END
$$;

SET LOCAL ROLE retail_owner;
SET LOCAL search_path = pg_catalog, public;

-- section: store_logins
-- Which store each store login may act for (its own, always, whatever it sets).
CREATE TABLE IF NOT EXISTS retail.store_logins (
    role_name  name        PRIMARY KEY,
    store_id   varchar(50) NOT NULL REFERENCES retail.stores (store_id)
);
INSERT INTO retail.store_logins (role_name, store_id)
SELECT v.role_name, v.store_id
FROM (VALUES
    ('seattle_manager'::name,  'seattle'),
    ('redmond_manager'::name,  'redmond'),
    ('bellevue_manager'::name, 'bellevue'),
    ('online_manager'::name,   'online')
) AS v (role_name, store_id)
WHERE NOT EXISTS (SELECT FROM retail.store_logins l WHERE l.role_name = v.role_name);
-- The context functions (owned by retail_audit) read who is bound where, and
-- which stores are active.
GRANT SELECT ON retail.stores, retail.store_logins TO retail_audit;

SET LOCAL ROLE retail_audit;

-- section: store_choosers
-- The roles that may choose a store, one transaction at a time: the
-- application's login only. Owned by retail_audit, so the schema owner cannot
-- add itself.
CREATE TABLE IF NOT EXISTS retail_audit.store_choosers (
    role_name  name  PRIMARY KEY
);
INSERT INTO retail_audit.store_choosers (role_name)
SELECT 'mcp_user' WHERE NOT EXISTS (SELECT FROM retail_audit.store_choosers WHERE role_name = 'mcp_user');

-- section: context_key
-- A random key that only retail_audit can read (no grants): set_store_context
-- signs the context with it, current_store_id() checks the signature. Nobody
-- else can compute one, so a hand-made setting never verifies.
CREATE TABLE IF NOT EXISTS retail_audit.context_key (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret    bytea   NOT NULL
);
-- gen_random_uuid() draws from the server's strong random source: 244 random bits.
INSERT INTO retail_audit.context_key (secret)
SELECT pg_catalog.sha256(pg_catalog.convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))
WHERE NOT EXISTS (SELECT FROM retail_audit.context_key);

-- section: current_store_id
-- The role the session acts as: the SET ROLE target if any, else the login.
-- (Inside a SECURITY DEFINER function current_user is the definer; the role
-- setting and session_user are the caller's.)
CREATE OR REPLACE FUNCTION retail_audit.acting_role() RETURNS name
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE pg_catalog.current_setting('role') WHEN 'none' THEN session_user
                ELSE pg_catalog.current_setting('role') END::name;

-- The signature of a store context: a keyed SHA-256 (key, then the hash of key
-- and message, so it cannot be extended) over the store, the acting role, this
-- backend and this transaction's id. A transaction id (xid8) never repeats, so
-- a signature copied into a session-wide setting is worthless in the next one.
-- Its callers, retail_audit's own definer functions, read the key and pass it:
-- a plain expression, which PostgreSQL inlines into their queries. (An earlier
-- version read the key itself.)
DROP FUNCTION IF EXISTS retail_audit.context_signature(varchar, name, xid8);
CREATE OR REPLACE FUNCTION retail_audit.context_signature(p_key bytea, p_store varchar, p_role name, p_xact xid8)
    RETURNS text
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    RETURN pg_catalog.encode(pg_catalog.sha256(p_key || pg_catalog.sha256(p_key || pg_catalog.convert_to(
               pg_catalog.jsonb_build_array(p_store, p_role, pg_catalog.pg_backend_pid(), p_xact::text)::text,
               'UTF8'))), 'hex');
REVOKE ALL ON FUNCTION retail_audit.context_signature(bytea, varchar, name, xid8) FROM PUBLIC;

-- The store the current role acts for in this statement, or NULL (no rows):
-- * a store login: its own store, if that store is active; settings are ignored;
-- * a store chooser (mcp_user): the store set_store_context chose in THIS
--   transaction, if its signature verifies and the store is still active;
-- * anyone else (the owner, a group, a SET ROLE target): NULL.
-- SECURITY DEFINER, to read the key; PARALLEL RESTRICTED, so it runs in the
-- leader (the signature names the leader's backend). The policies call it
-- through retail.current_store_id() (section context_functions), as an
-- InitPlan, (SELECT retail.current_store_id()), once per statement and table;
-- so it is kept to two queries (PL/pgSQL keeps their plans for the session):
-- the login's own store, else the chosen store joined with the key that must
-- sign it (benchmarks/rls_overhead.py measures what it costs).
CREATE OR REPLACE FUNCTION retail_audit.verified_store_id() RETURNS varchar
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    acting name := retail_audit.acting_role();
    chosen varchar;
BEGIN
    SELECT l.store_id INTO chosen FROM retail.store_logins AS l WHERE l.role_name = acting;
    IF FOUND THEN
        RETURN (SELECT s.store_id FROM retail.stores AS s WHERE s.store_id = chosen AND s.is_active);
    END IF;
    chosen := nullif(current_setting('app.current_store_id', true), '');
    RETURN (SELECT s.store_id FROM retail.stores AS s, retail_audit.context_key AS k
            WHERE s.store_id = chosen AND s.is_active
              AND EXISTS (SELECT FROM retail_audit.store_choosers AS h WHERE h.role_name = acting)
              AND current_setting('app.store_context_signature', true)
                  = retail_audit.context_signature(k.secret, chosen, acting, pg_current_xact_id_if_assigned()));
END
$$;
REVOKE ALL ON FUNCTION retail_audit.verified_store_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail_audit.verified_store_id() TO retail_app, retail_owner;

-- section: set_store_context
-- The one way to choose a store: checks that the store exists and is active and
-- that the caller may act for it, writes the SET_CONTEXT audit row, then sets
-- app.current_store_id and its signature for the current transaction only
-- (set_config's third argument, true), so neither can leak to the next user of
-- a pooled connection. Called outside a transaction block, the context ends with
-- the statement. SECURITY DEFINER (owned by retail_audit), so it alone writes
-- context rows and reads the key; retail.set_store_context() calls it.
CREATE OR REPLACE FUNCTION retail_audit.choose_store(p_store_id varchar) RETURNS void
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    active boolean;
    bound varchar;
    acting name := retail_audit.acting_role();
BEGIN
    IF p_store_id IS NULL OR btrim(p_store_id) = '' THEN
        RAISE EXCEPTION 'a store id is required'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass one of the ids in retail.stores, e.g. ''seattle''.';
    END IF;
    SELECT s.is_active INTO active FROM retail.stores AS s WHERE s.store_id = p_store_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown store: %', pg_catalog.quote_literal(p_store_id)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Active stores: ' || (SELECT string_agg(s.store_id, ', ' ORDER BY s.store_id)
                                               FROM retail.stores AS s WHERE s.is_active) || '.';
    END IF;
    IF NOT active THEN
        RAISE EXCEPTION 'store % is not active', pg_catalog.quote_literal(p_store_id)
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Reactivate it (UPDATE retail.stores SET is_active = true) or pick another store.';
    END IF;
    SELECT l.store_id INTO bound FROM retail.store_logins AS l WHERE l.role_name = acting;
    IF bound IS NOT NULL AND bound <> p_store_id THEN
        RAISE EXCEPTION 'role % may act only for store %', acting, pg_catalog.quote_literal(bound)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF bound IS NULL AND NOT EXISTS (SELECT FROM retail_audit.store_choosers AS h WHERE h.role_name = acting) THEN
        RAISE EXCEPTION 'role % may not choose a store', acting
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Connect as the application login (mcp_user) or as a store login.';
    END IF;
    -- The audit row first: it also gives the transaction the id the signature names.
    INSERT INTO retail_audit.audit_log (table_name, action, user_name, store_id, metadata)
    VALUES ('stores', 'SET_CONTEXT', acting, p_store_id,
            jsonb_build_object('login', session_user, 'transaction', pg_current_xact_id()::text));
    PERFORM pg_catalog.set_config('app.current_store_id', p_store_id, true);
    PERFORM pg_catalog.set_config('app.store_context_signature',
        (SELECT retail_audit.context_signature(k.secret, p_store_id, acting, pg_current_xact_id())
         FROM retail_audit.context_key AS k), true);
END
$$;
REVOKE ALL ON FUNCTION retail_audit.choose_store(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail_audit.choose_store(varchar) TO retail_app, retail_owner;

-- section: audit
-- Audit rows are written by SECURITY DEFINER functions owned by retail_audit, so
-- no other role needs (or has) any privilege to write the log. A definer runs
-- with its owner's rights, so its search_path is pinned: otherwise a caller
-- could put a schema of its own first and have it call their functions.
-- user_name is the role that acted (SET ROLE included); the login, the verified
-- store context and the transaction are in metadata.
CREATE OR REPLACE FUNCTION retail_audit.record_change() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
BEGIN
    -- TG_ARGV[0] names the table's key column: each table audits its own key
    -- (the lab text reads NEW.customer_id on every table and breaks inserts).
    INSERT INTO retail_audit.audit_log
        (table_name, action, user_name, store_id, record_id, old_values, new_values, metadata)
    VALUES (
        TG_TABLE_NAME, TG_OP, retail_audit.acting_role(),
        coalesce(new_row, old_row) ->> 'store_id',
        (coalesce(new_row, old_row) ->> TG_ARGV[0])::uuid,
        old_row, new_row,
        jsonb_build_object('login', session_user,
                           'store_context', retail_audit.verified_store_id(),
                           'transaction', pg_current_xact_id()::text));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION retail_audit.record_change() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail_audit.record_change() TO retail_owner;  -- to attach it as a trigger

-- The owner's own entries (a bulk load, maintenance, a recovery) go through the
-- view: INSERT INTO retail.audit_log (table_name, action, store_id, metadata).
-- The function records who wrote them and refuses the kinds of row that only
-- the triggers and set_store_context may write.
CREATE OR REPLACE FUNCTION retail_audit.record_entry() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.action IN ('SET_CONTEXT', 'INSERT', 'UPDATE', 'DELETE') THEN
        RAISE EXCEPTION '% rows are written only by the audit triggers and retail.set_store_context', NEW.action
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO retail_audit.audit_log (table_name, action, user_name, store_id, record_id, metadata)
    VALUES (NEW.table_name, NEW.action, retail_audit.acting_role(), NEW.store_id, NEW.record_id,
            coalesce(NEW.metadata, '{}') || jsonb_build_object('login', session_user,
                                                               'transaction', pg_current_xact_id()::text))
    RETURNING log_id, user_name, metadata, created_at
    INTO NEW.log_id, NEW.user_name, NEW.metadata, NEW.created_at;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION retail_audit.record_entry() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail_audit.record_entry() TO retail_owner;  -- to attach it to the view

-- section: append_only
-- Nobody edits history: no role but retail_audit (which nobody can become) has
-- UPDATE, DELETE or TRUNCATE on the log, and these triggers stop even the
-- administrator acting as it by mistake.
CREATE OR REPLACE FUNCTION retail_audit.refuse_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON retail_audit.audit_log
    FOR EACH ROW EXECUTE FUNCTION retail_audit.refuse_change();
CREATE OR REPLACE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON retail_audit.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION retail_audit.refuse_change();

-- section: ddl_guard_function
-- Used by the event triggers of the ddl_guard section, at the end of this file.
CREATE OR REPLACE FUNCTION retail_audit.guard_ddl() RETURNS event_trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    touched text;
BEGIN
    -- A superuser can disable event triggers anyway: the guard is against everyone else.
    IF current_user = 'retail_audit' OR (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    IF TG_EVENT = 'sql_drop' THEN
        SELECT d.object_identity INTO touched FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
        WHERE d.schema_name = 'retail_audit' OR d.object_identity IN ('retail_audit', 'retail.audit_log')
           OR d.object_identity LIKE '% on retail.audit_log'
        LIMIT 1;
    ELSE
        SELECT c.object_identity INTO touched FROM pg_catalog.pg_event_trigger_ddl_commands() AS c
        WHERE c.schema_name = 'retail_audit' OR c.object_identity IN ('retail_audit', 'retail.audit_log')
           OR c.object_identity LIKE '% on retail.audit_log'
        LIMIT 1;
    END IF;
    IF touched IS NOT NULL THEN
        RAISE EXCEPTION '% on % is refused: the audit objects belong to retail_audit', TG_TAG, touched
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Change sql/ and run labkit setup, which acts as retail_audit.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION retail_audit.guard_ddl() FROM PUBLIC;

-- section: audit_grants
-- Read through retail.audit_log (security_invoker, so as the reader): the
-- application roles see their store's rows, the owner every row.
GRANT USAGE ON SCHEMA retail_audit TO retail_app, retail_owner;
GRANT SELECT ON retail_audit.audit_log TO retail_app, retail_owner;
DO $$
BEGIN
    IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = 'retail_audit.audit_log'::regclass) THEN
        ALTER TABLE retail_audit.audit_log ENABLE ROW LEVEL SECURITY;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies WHERE schemaname = 'retail_audit'
                   AND tablename = 'audit_log' AND policyname = 'store_reads_own_audit') THEN
        CREATE POLICY store_reads_own_audit ON retail_audit.audit_log FOR SELECT TO retail_app
            USING (store_id = (SELECT retail_audit.verified_store_id()));
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies WHERE schemaname = 'retail_audit'
                   AND tablename = 'audit_log' AND policyname = 'owner_reads_audit') THEN
        CREATE POLICY owner_reads_audit ON retail_audit.audit_log FOR SELECT TO retail_owner
            USING (true);
    END IF;
END
$$;

SET LOCAL ROLE retail_owner;

-- section: context_functions
-- The names the policies and the application use. Both are plain wrappers
-- (SECURITY INVOKER) over retail_audit's definers above, which alone can read the
-- key and write the log. current_store_id() has a SQL-standard body: parsed once,
-- when created, and inlined where it is called, so a policy pays for one call.
CREATE OR REPLACE FUNCTION retail.current_store_id() RETURNS varchar
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    SECURITY INVOKER
    RETURN retail_audit.verified_store_id();
REVOKE ALL ON FUNCTION retail.current_store_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.current_store_id() TO retail_app;

CREATE OR REPLACE FUNCTION retail.set_store_context(p_store_id varchar) RETURNS void
    LANGUAGE sql
    SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT retail_audit.choose_store(p_store_id)
$$;
REVOKE ALL ON FUNCTION retail.set_store_context(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.set_store_context(varchar) TO retail_app;

-- The owner's own audit entries go through the view (see retail_audit.record_entry).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger
                   WHERE tgrelid = 'retail.audit_log'::regclass AND tgname = 'audit_log_entry') THEN
        CREATE TRIGGER audit_log_entry
            INSTEAD OF INSERT ON retail.audit_log
            FOR EACH ROW EXECUTE FUNCTION retail_audit.record_entry();
    END IF;
END
$$;

-- section: grants
-- The application roles read the shared reference data and work on store rows
-- (row-level security decides which), and read the audit log (its policy: their
-- store's rows only). No TRUNCATE: it ignores row-level security.
GRANT USAGE ON SCHEMA retail TO retail_app;
GRANT SELECT ON retail.audit_log TO retail_app;
GRANT SELECT ON retail.stores, retail.product_categories, retail.store_logins TO retail_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON retail.customers, retail.products, retail.sales_transactions,
       retail.sales_transaction_items, retail.product_embeddings
    TO retail_app;
REVOKE ALL ON FUNCTION retail.item_store_from_transaction() FROM PUBLIC;

-- section: policies
-- One policy per table, for every command: USING filters the rows a statement
-- sees (SELECT, UPDATE, DELETE, COPY TO), WITH CHECK the rows it writes (INSERT,
-- UPDATE). (SELECT retail.current_store_id()) is an InitPlan: evaluated once per
-- statement, not once per row. ENABLE turns the policies on for everyone but the
-- owner and superusers; FORCE holds the owner to them too. A superuser always
-- bypasses them.
DO $$
DECLARE
    t text;
BEGIN
    -- Line items carry their transaction's store_id (a foreign key keeps the two
    -- equal), so they get the same policy as the rest.
    FOREACH t IN ARRAY ARRAY['customers', 'products', 'sales_transactions',
                             'sales_transaction_items', 'product_embeddings']
    LOOP
        IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = ('retail.' || t)::regclass) THEN
            EXECUTE pg_catalog.format('ALTER TABLE retail.%I ENABLE ROW LEVEL SECURITY', t);
        END IF;
        IF NOT (SELECT relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = ('retail.' || t)::regclass) THEN
            EXECUTE pg_catalog.format('ALTER TABLE retail.%I FORCE ROW LEVEL SECURITY', t);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies
                       WHERE schemaname = 'retail' AND tablename = t AND policyname = 'store_isolation') THEN
            EXECUTE pg_catalog.format(
                'CREATE POLICY store_isolation ON retail.%I FOR ALL'
                ' USING (store_id = (SELECT retail.current_store_id()))'
                ' WITH CHECK (store_id = (SELECT retail.current_store_id()))', t);
        END IF;
    END LOOP;
END
$$;

-- section: audit_triggers
-- Every per-store table is audited row by row. A bulk load (labkit/bulk.py)
-- pauses these triggers inside its transaction and writes one row per table
-- instead: the table's owner can always disable its own triggers, so the log
-- guarantees that what it holds cannot be rewritten, not that the owner's every
-- change is in it.
DO $$
DECLARE
    t text;
    k text;
BEGIN
    FOR t, k IN SELECT * FROM (VALUES ('customers', 'customer_id'), ('products', 'product_id'),
                                      ('sales_transactions', 'transaction_id'),
                                      ('sales_transaction_items', 'item_id'),
                                      ('product_embeddings', 'embedding_id')) AS v (t, k)
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger AS g
                       WHERE g.tgrelid = ('retail.' || t)::regclass AND g.tgname = 'audit_changes'
                         AND g.tgfoid = 'retail_audit.record_change()'::regprocedure) THEN
            EXECUTE pg_catalog.format(
                'CREATE OR REPLACE TRIGGER audit_changes AFTER INSERT OR UPDATE OR DELETE ON retail.%I'
                ' FOR EACH ROW EXECUTE FUNCTION retail_audit.record_change(%L)', t, k);
        END IF;
    END LOOP;
END
$$;
-- The earlier trigger function, owned by retail_owner (its triggers now call
-- retail_audit.record_change).
DROP FUNCTION IF EXISTS retail.audit_changes();

RESET ROLE;

-- section: ddl_guard
-- The owner of schema retail could still drop the view retail.audit_log, and a
-- superuser anything. Where the administrator may create event triggers (a
-- superuser; not on managed servers), one refuses DDL on the audit objects to
-- every role but retail_audit (and superusers, who could disable it anyway).
-- Elsewhere it is skipped, with a notice.
DO $$
DECLARE
    e text;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'audit DDL guard skipped: creating event triggers needs a superuser; the owner of schema retail can drop the view retail.audit_log (the log itself stays safe)';
        RETURN;
    END IF;
    FOREACH e IN ARRAY ARRAY['ddl_command_end', 'sql_drop']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'retail_audit_guard_' || e) THEN
            EXECUTE pg_catalog.format(
                'CREATE EVENT TRIGGER %I ON %s EXECUTE FUNCTION retail_audit.guard_ddl()',
                'retail_audit_guard_' || e, e);
        ELSIF (SELECT evtenabled FROM pg_catalog.pg_event_trigger WHERE evtname = 'retail_audit_guard_' || e) = 'D' THEN
            EXECUTE pg_catalog.format('ALTER EVENT TRIGGER %I ENABLE', 'retail_audit_guard_' || e);
        END IF;
    END LOOP;
END
$$;
