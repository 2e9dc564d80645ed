-- Roles of the lab. Roles belong to the whole server, not to one database, so
-- they come first: the lab text names mcp_user in policies before creating it
-- and fails on a fresh server (SPEC defect 1).
--
-- Passwords are not in this file: labkit generates them, keeps them in the data
-- folder (mode 600) and sets them with ALTER ROLE ... PASSWORD '<SCRAM verifier>'.

-- section: owner
-- retail_owner owns the schema and every table in it. It is not a superuser and
-- it is not the application login: owners bypass row-level security unless a
-- table is FORCEd, so tenant queries must never run as the owner.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'retail_owner') THEN
        CREATE ROLE retail_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    -- On a managed server the administrator is not a superuser; it needs to act
    -- as the owner (SET ROLE) to create the owner's objects.
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT pg_catalog.pg_has_role(current_user, 'retail_owner', 'MEMBER') THEN
        EXECUTE pg_catalog.format('GRANT retail_owner TO %I', current_user);
    END IF;
END
$$;

-- section: application
-- retail_app holds the application's privileges; it cannot log in. Its members
-- are the roles that run tenant queries: they own nothing, are not superusers,
-- do not bypass row-level security, and see one store at a time.
--
-- mcp_user is the application's login (the MCP server in the next lab). It may
-- choose the store it acts for, one transaction at a time, only through
-- retail.set_store_context() (retail_audit.store_choosers lists it).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'retail_app') THEN
        CREATE ROLE retail_app NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'mcp_user') THEN
        CREATE ROLE mcp_user LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
END
$$;

-- section: store_logins
-- One login per store, for people who work in that store (and for demos). Each
-- is bound to its store in retail.store_logins: whatever it sets
-- app.current_store_id to, it sees and changes only its own store's rows.
DO $$
DECLARE
    login text;
BEGIN
    FOREACH login IN ARRAY ARRAY['seattle_manager', 'redmond_manager', 'bellevue_manager', 'online_manager']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = login) THEN
            EXECUTE pg_catalog.format(
                'CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', login);
        END IF;
    END LOOP;
END
$$;

-- section: managed_admin
-- On a managed server (Azure, RDS, Cloud SQL) the administrator is not a
-- superuser but has CREATEROLE. Since PostgreSQL 16 the roles it creates come
-- with ADMIN OPTION only: it may grant them, but neither SET ROLE to them nor
-- use their privileges, so it could not create retail_owner's objects or drop
-- them on reset. It grants itself SET and INHERIT on the lab's roles (what
-- createrole_self_grant = 'set, inherit' does for roles created afterwards).
-- Before 16, CREATEROLE may grant any non-superuser role, so a plain GRANT
-- does the same. A superuser needs neither.
DO $$
DECLARE
    lab_role text;
    pg16 boolean := pg_catalog.current_setting('server_version_num')::int >= 160000;
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN;
    END IF;
    FOREACH lab_role IN ARRAY ARRAY['retail_owner', 'retail_app', 'mcp_user', 'seattle_manager',
                                    'redmond_manager', 'bellevue_manager', 'online_manager']
    LOOP
        IF pg16 AND NOT (pg_catalog.pg_has_role(current_user, lab_role, 'SET')
                         AND pg_catalog.pg_has_role(current_user, lab_role, 'USAGE')) THEN
            EXECUTE pg_catalog.format('GRANT %I TO %I WITH INHERIT TRUE, SET TRUE',
                                      lab_role, current_user);
        ELSIF NOT pg16 AND NOT pg_catalog.pg_has_role(current_user, lab_role, 'USAGE') THEN
            EXECUTE pg_catalog.format('GRANT %I TO %I', lab_role, current_user);
        END IF;
    END LOOP;
END
$$;

-- section: logins
-- The logins inherit retail_app's privileges but cannot become it: SET FALSE
-- (PostgreSQL 16+) refuses SET ROLE retail_app, so no login can act as a role
-- other than itself. (Had a store login the SET option, SET ROLE retail_app would
-- take it out of retail.store_logins; retail.current_store_id() gives any role
-- that is neither a store login nor a store chooser no store at all, but the
-- rule is: a login is one identity.) An existing membership with SET TRUE, from
-- an earlier version of this file, is changed in place.
-- A tenant may also LOCK a table it can write (shared with every store) and hold
-- the lock; each login's lock timeout bounds how long anyone else then waits for
-- it. (A role may change its own settings, so this bounds mistakes, not a
-- determined tenant.)
DO $$
DECLARE
    login text;
BEGIN
    FOREACH login IN ARRAY ARRAY['mcp_user', 'seattle_manager', 'redmond_manager', 'bellevue_manager', 'online_manager']
    LOOP
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members AS m
                       WHERE m.roleid = 'retail_app'::regrole AND m.member = login::regrole
                         AND m.inherit_option AND NOT m.set_option) THEN
            EXECUTE pg_catalog.format('GRANT retail_app TO %I WITH INHERIT TRUE, SET FALSE', login);
        END IF;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_db_role_setting AS s
                       WHERE s.setrole = login::regrole AND s.setdatabase = 0
                         AND 'lock_timeout=5s' = ANY (s.setconfig)) THEN
            EXECUTE pg_catalog.format('ALTER ROLE %I SET lock_timeout = %L', login, '5s');
        END IF;
    END LOOP;
END
$$;

-- section: audit_role
-- retail_audit owns the audit log, the store context's secret and the functions
-- that write either. It cannot log in and no login is a member of it, so neither
-- the application nor the schema owner can rewrite history. Only a superuser
-- (and, on a managed server, the administrator that runs this setup, which must
-- act as it to create its objects) can become it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'retail_audit') THEN
        CREATE ROLE retail_audit NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
    END IF;
    -- The administrator also reads the log, to back it up (never the key: sql/04).
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)
       AND NOT (pg_catalog.pg_has_role(current_user, 'retail_audit', 'SET')
                AND pg_catalog.pg_has_role(current_user, 'retail_audit', 'USAGE')) THEN
        EXECUTE pg_catalog.format('GRANT retail_audit TO %I WITH INHERIT TRUE, SET TRUE', current_user);
    END IF;
END
$$;
