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
