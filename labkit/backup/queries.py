"""The catalog queries behind a fingerprint: the database's own objects only.

Objects of the system schemas and members of extensions (pgvector's hundreds of
functions in ``public``) are left out; extensions are listed by name and version.
"""

#: Session settings under which two servers print the same values the same way.
CANONICAL = (
    "-c search_path=pg_catalog -c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres"
    " -c extra_float_digits=1 -c bytea_output=hex"
)

USER_OBJECTS = """
WITH ns AS (
    SELECT n.oid, n.nspname, n.nspowner, n.nspacl FROM pg_catalog.pg_namespace AS n
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
), rel AS (
    SELECT c.* FROM pg_catalog.pg_class AS c JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass
                        AND d.objid = c.oid AND d.deptype = 'e')
), fn AS (
    SELECT p.* FROM pg_catalog.pg_proc AS p JOIN ns ON ns.oid = p.pronamespace
    WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                      WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                        AND d.objid = p.oid AND d.deptype = 'e')
)
"""
# One (kind, fact) per row. ACLs are sorted (GRANT order is not part of the state), and
# a default ACL is written out: NULL and its explicit form grant the same, and pg_dump
# restores either as NULL.
SCHEMA_FACTS = (
    USER_OBJECTS
    + """
SELECT 'extensions', e.extname || ' ' || e.extversion FROM pg_catalog.pg_extension AS e
UNION ALL
SELECT 'schemas', concat_ws(' ', ns.nspname, pg_catalog.pg_get_userbyid(ns.nspowner),
       (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(ns.nspacl, pg_catalog.acldefault('n', ns.nspowner))) AS a))
FROM ns
UNION ALL
SELECT 'tables', concat_ws(' ', c.oid::regclass, c.relkind::text, pg_catalog.pg_get_userbyid(c.relowner))
FROM rel AS c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'row security', concat_ws(' ', c.oid::regclass, 'enabled=' || c.relrowsecurity,
                                 'forced=' || c.relforcerowsecurity)
FROM rel AS c WHERE c.relkind IN ('r', 'p')
UNION ALL
SELECT 'grants', concat_ws(' ', c.oid::regclass,
       (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(c.relacl, pg_catalog.acldefault(
           (CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) AS a))
FROM rel AS c WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'columns', concat_ws(' ', c.oid::regclass || '.' || quote_ident(a.attname),
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attnotnull THEN 'not null' END, pg_catalog.pg_get_expr(d.adbin, d.adrelid))
FROM pg_catalog.pg_attribute AS a JOIN rel AS c ON c.oid = a.attrelid
LEFT JOIN pg_catalog.pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'constraints', concat_ws(' ', k.conrelid::regclass, k.conname,
                                pg_catalog.pg_get_constraintdef(k.oid))
FROM pg_catalog.pg_constraint AS k JOIN rel AS c ON c.oid = k.conrelid
UNION ALL
SELECT 'indexes', pg_catalog.pg_get_indexdef(i.indexrelid)
       || CASE WHEN i.indisvalid THEN '' ELSE ' (INVALID)' END
FROM pg_catalog.pg_index AS i JOIN rel AS c ON c.oid = i.indexrelid
UNION ALL
SELECT 'triggers', pg_catalog.pg_get_triggerdef(t.oid) || ' (enabled=' || t.tgenabled::text || ')'
FROM pg_catalog.pg_trigger AS t JOIN rel AS c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal
UNION ALL
SELECT 'policies', concat_ws(' ', p.schemaname || '.' || p.tablename, p.policyname, p.permissive,
                             p.roles::text, p.cmd, p.qual, p.with_check)
FROM pg_catalog.pg_policies AS p WHERE p.schemaname IN (SELECT nspname FROM ns)
UNION ALL
SELECT 'functions', concat_ws(' ', p.oid::regprocedure, p.prokind::text, pg_catalog.pg_get_userbyid(p.proowner),
       'definer=' || p.prosecdef, p.provolatile::text, md5(p.prosrc), p.proconfig::text,
       (SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) AS a))
FROM fn AS p
UNION ALL
SELECT 'views', c.oid::regclass || ' ' || md5(pg_catalog.pg_get_viewdef(c.oid))
FROM rel AS c WHERE c.relkind IN ('v', 'm')
UNION ALL
SELECT 'sequences', concat_ws(' ', quote_ident(s.schemaname) || '.' || quote_ident(s.sequencename),
                              coalesce(s.last_value::text, 'unused'))
FROM pg_catalog.pg_sequences AS s WHERE s.schemaname IN (SELECT nspname FROM ns)
"""
)
# Tables with their primary key columns (collatable ones are compared as "C").
TABLES = (
    USER_OBJECTS
    + """
SELECT ns.nspname, c.relname,
       coalesce((SELECT array_agg(a.attname::text ORDER BY k.n)
                 FROM unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum),
                '{}'),
       coalesce((SELECT array_agg(a.attcollation <> 0 ORDER BY k.n)
                 FROM unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
                 JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum),
                '{}')
FROM rel AS c JOIN ns ON ns.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_index AS i ON i.indrelid = c.oid AND i.indisprimary
WHERE c.relkind = 'r'
ORDER BY 1, 2
"""
)
# Tables under row-level security that the connected role may read, and
# whether each has a store_id column.
RLS_TABLES = (
    USER_OBJECTS
    + """
SELECT ns.nspname, c.relname,
       EXISTS (SELECT FROM pg_catalog.pg_attribute AS a
               WHERE a.attrelid = c.oid AND a.attname = 'store_id' AND NOT a.attisdropped)
FROM rel AS c JOIN ns ON ns.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND pg_catalog.has_table_privilege(c.oid, 'SELECT')
ORDER BY 1, 2
"""
)
SEARCH_FUNCTION = """
SELECT p.oid::regproc::text,
       array(SELECT pg_catalog.format_type(t, NULL) FROM unnest(p.proargtypes) AS t),
       coalesce(p.proargnames, '{}')
FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
WHERE n.nspname = %s AND p.proname = 'search_products_by_similarity' AND p.pronargs >= 1
  AND pg_catalog.format_type(p.proargtypes[0], NULL) LIKE %s
ORDER BY p.pronargs DESC LIMIT 1
"""
# The probe: the store's first embedding (by product) of the model most of them use.
PROBE = """
SELECT e.embedding, e.embedding_model FROM retail.product_embeddings AS e
WHERE e.embedding_model = (SELECT m.embedding_model FROM retail.product_embeddings AS m
                           GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1)
ORDER BY e.product_id, e.embedding_id LIMIT 1
"""
