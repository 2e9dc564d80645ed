-- Row-level security: every store sees and changes only its own rows.
--
-- The lab text gets this subtly wrong (SPEC defect 8): the owner and superusers
-- bypass RLS unless tables are FORCEd; set_config(..., false) is session-wide,
-- so a pooled connection carries one store's context into the next request;
-- SECURITY DEFINER functions without a fixed search_path can be hijacked; its
-- audit trigger fails on every insert (SPEC defect 3).
--
-- Statements that take strong table locks (ENABLE/FORCE, CREATE POLICY) run only
-- when their object is missing, so a second setup neither changes anything nor
-- waits for other sessions' locks.

SET LOCAL ROLE retail_owner;
SET LOCAL search_path = pg_catalog, public;

-- section: store_logins
-- Which store each store login may act for. mcp_user is not listed: it may act
-- for any store, as the application's trusted identity.
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

-- section: current_store_id
-- The store the current role acts for in this statement, or NULL (no rows):
-- * the application login (mcp_user): app.current_store_id, as set for this
--   transaction by retail.set_store_context();
-- * a store login: its own store, unless app.current_store_id names another
--   store, in which case NULL: spoofing the setting shows nothing.
-- An unset or empty setting gives NULL, and store_id = NULL matches no row, so
-- the policies fail closed. SECURITY INVOKER, so current_user is the caller.
CREATE OR REPLACE FUNCTION retail.current_store_id() RETURNS varchar
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
        WHEN bound.store_id IS NULL THEN context.store_id
        WHEN coalesce(context.store_id, bound.store_id) = bound.store_id THEN bound.store_id
    END
    FROM (SELECT nullif(current_setting('app.current_store_id', true), '')::varchar AS store_id) AS context,
         (SELECT (SELECT l.store_id FROM retail.store_logins AS l WHERE l.role_name = current_user)
                 AS store_id) AS bound
$$;

-- section: grants
-- The application roles read the shared reference data, work on store rows
-- (row-level security decides which), and only read the audit log. No
-- TRUNCATE: it ignores row-level security.
GRANT USAGE ON SCHEMA retail TO retail_app;
GRANT SELECT ON retail.stores, retail.product_categories, retail.store_logins TO retail_app;
GRANT SELECT, INSERT, UPDATE, DELETE
    ON retail.customers, retail.products, retail.sales_transactions,
       retail.sales_transaction_items, retail.product_embeddings
    TO retail_app;
GRANT SELECT ON retail.audit_log TO retail_app;
REVOKE ALL ON FUNCTION retail.current_store_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.current_store_id() TO retail_app;
REVOKE ALL ON FUNCTION retail.item_store_from_transaction() FROM PUBLIC;

-- section: enable
-- ENABLE turns the policies on for everyone but the owner and superusers;
-- FORCE holds the owner to them too. A superuser always bypasses them.
-- The audit log is enabled but not forced: its owner writes it, through the
-- audit trigger.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['customers', 'products', 'sales_transactions',
                             'sales_transaction_items', 'product_embeddings', 'audit_log']
    LOOP
        IF NOT (SELECT relrowsecurity FROM pg_catalog.pg_class WHERE oid = ('retail.' || t)::regclass) THEN
            EXECUTE pg_catalog.format('ALTER TABLE retail.%I ENABLE ROW LEVEL SECURITY', t);
        END IF;
        IF t <> 'audit_log'
           AND NOT (SELECT relforcerowsecurity FROM pg_catalog.pg_class WHERE oid = ('retail.' || t)::regclass) THEN
            EXECUTE pg_catalog.format('ALTER TABLE retail.%I FORCE ROW LEVEL SECURITY', t);
        END IF;
    END LOOP;
END
$$;

-- section: policies
-- One policy per table, for every command: USING filters the rows a statement
-- sees (SELECT, UPDATE, DELETE, COPY TO), WITH CHECK the rows it writes (INSERT,
-- UPDATE). (SELECT retail.current_store_id()) is an InitPlan: evaluated once per
-- statement, not once per row.
DO $$
DECLARE
    t text;
BEGIN
    -- Line items carry their transaction's store_id (a foreign key keeps the two
    -- equal), so they get the same policy as the rest.
    FOREACH t IN ARRAY ARRAY['customers', 'products', 'sales_transactions',
                             'sales_transaction_items', 'product_embeddings']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies
                       WHERE schemaname = 'retail' AND tablename = t AND policyname = 'store_isolation') THEN
            EXECUTE pg_catalog.format(
                'CREATE POLICY store_isolation ON retail.%I FOR ALL'
                ' USING (store_id = (SELECT retail.current_store_id()))'
                ' WITH CHECK (store_id = (SELECT retail.current_store_id()))', t);
        END IF;
    END LOOP;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies WHERE schemaname = 'retail'
                   AND tablename = 'audit_log' AND policyname = 'store_reads_own_audit') THEN
        CREATE POLICY store_reads_own_audit ON retail.audit_log FOR SELECT
            USING (store_id = (SELECT retail.current_store_id()));
    END IF;
END
$$;

-- section: set_store_context
-- The one way the application chooses a store: checks that the store exists
-- and is active, and that the caller may act for it; sets app.current_store_id
-- for the current transaction only (set_config's third argument, true), so it
-- can never leak to the next user of a pooled connection; writes an audit row.
-- Called outside a transaction block, the setting ends with the statement.
CREATE OR REPLACE FUNCTION retail.set_store_context(p_store_id varchar) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    active boolean;
    bound varchar;
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
    SELECT l.store_id INTO bound FROM retail.store_logins AS l WHERE l.role_name = current_user;
    IF bound IS NOT NULL AND bound <> p_store_id THEN
        RAISE EXCEPTION 'role % may act only for store %', current_user, pg_catalog.quote_literal(bound)
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM pg_catalog.set_config('app.current_store_id', p_store_id, true);
    PERFORM retail.audit_store_context();
END
$$;
REVOKE ALL ON FUNCTION retail.set_store_context(varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.set_store_context(varchar) TO retail_app;

-- section: audit
-- Audit rows are written by SECURITY DEFINER functions owned by retail_owner, so
-- the application roles need (and have) no INSERT on audit_log. A definer runs
-- with its owner's rights, so its search_path is pinned: otherwise a caller
-- could put a schema of its own first and have it call their functions.
-- user_name is the role that acted (SET ROLE included); the login is in metadata.
CREATE OR REPLACE FUNCTION retail.audit_changes() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
    acting  text  := CASE current_setting('role') WHEN 'none' THEN session_user ELSE current_setting('role') END;
BEGIN
    -- TG_ARGV[0] names the table's key column: each table audits its own key
    -- (the lab text reads NEW.customer_id on every table and breaks inserts).
    INSERT INTO retail.audit_log
        (table_name, action, user_name, store_id, record_id, old_values, new_values, metadata)
    VALUES (
        TG_TABLE_NAME, TG_OP, acting,
        coalesce(new_row, old_row) ->> 'store_id',
        (coalesce(new_row, old_row) ->> TG_ARGV[0])::uuid,
        old_row, new_row,
        jsonb_build_object('login', session_user,
                           'store_context', nullif(current_setting('app.current_store_id', true), ''),
                           'transaction', txid_current()));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION retail.audit_changes() FROM PUBLIC;

CREATE OR REPLACE TRIGGER audit_changes
    AFTER INSERT OR UPDATE OR DELETE ON retail.customers
    FOR EACH ROW EXECUTE FUNCTION retail.audit_changes('customer_id');
CREATE OR REPLACE TRIGGER audit_changes
    AFTER INSERT OR UPDATE OR DELETE ON retail.products
    FOR EACH ROW EXECUTE FUNCTION retail.audit_changes('product_id');
CREATE OR REPLACE TRIGGER audit_changes
    AFTER INSERT OR UPDATE OR DELETE ON retail.sales_transactions
    FOR EACH ROW EXECUTE FUNCTION retail.audit_changes('transaction_id');

-- Called by set_store_context: records the context it just set. Takes no
-- arguments, so a caller can only ever log the truth.
CREATE OR REPLACE FUNCTION retail.audit_store_context() RETURNS void
    LANGUAGE sql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO retail.audit_log (table_name, action, user_name, store_id, metadata)
    SELECT 'stores', 'SET_CONTEXT',
           CASE current_setting('role') WHEN 'none' THEN session_user ELSE current_setting('role') END,
           nullif(current_setting('app.current_store_id', true), ''),
           jsonb_build_object('login', session_user, 'transaction', txid_current());
$$;
REVOKE ALL ON FUNCTION retail.audit_store_context() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.audit_store_context() TO retail_app;

-- section: append_only
-- Nobody edits history: the application roles have no UPDATE, DELETE or
-- TRUNCATE on audit_log, and these triggers stop the owner too.
CREATE OR REPLACE FUNCTION retail.refuse_audit_change() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE OR REPLACE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON retail.audit_log
    FOR EACH ROW EXECUTE FUNCTION retail.refuse_audit_change();
CREATE OR REPLACE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON retail.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION retail.refuse_audit_change();
