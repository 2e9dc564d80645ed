-- Extensions the lab needs.
--
-- Not here, on purpose: uuid-ossp and pgcrypto. The lab text enables both to
-- generate UUIDs, but since PostgreSQL 13 gen_random_uuid() is built in, and
-- some servers (this embedded one) do not ship either extension (SPEC defect 2).

-- section: vector
-- pgvector: the vector type, distance operators (<=> is cosine distance) and the
-- HNSW and IVFFlat index methods. Installed in public so every role finds it.
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA public;

-- section: pg_stat_statements
-- Query statistics. The extension only works when the server preloads its
-- library (shared_preload_libraries = 'pg_stat_statements', set by labkit when
-- it creates the server, and by docker-compose.yml); otherwise every read of
-- its view fails (SPEC defect 6).
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA public;
