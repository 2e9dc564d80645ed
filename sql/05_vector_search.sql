-- Vector search: one HNSW graph per store and model, and the search function.
--
-- product_embeddings.embedding is an untyped vector, so the lab's OpenAI model
-- (text-embedding-3-small, 1536 dimensions) and the offline model
-- (all-MiniLM-L6-v2-int8, 384 dimensions) live side by side, one row per
-- product per model. retail.embedding_models() says which models exist and how
-- many dimensions each has: the one place that knows. Each store gets its own
-- partial HNSW index per model on a typed cast; a query uses it only when it
-- names the same store and model and casts the same way, which also guarantees
-- that two models' vectors never meet.
--
-- Idempotent like 04_security.sql: an index is built only when missing (CREATE
-- INDEX IF NOT EXISTS would still lock the table against writes on every run),
-- and CREATE OR REPLACE FUNCTION keeps the function's oid.

SET LOCAL ROLE retail_owner;
SET LOCAL search_path = pg_catalog, public;
-- pgvector's settings (hnsw.*) exist once its library is loaded in this session;
-- until then the function's SET clauses below would name unknown placeholders,
-- which only a superuser may set. Reading one vector loads the library.
SELECT '[0]'::vector AS load_pgvector;

-- section: embedding_text
-- What a product's vector is made from: what kind of product it is, its
-- category with the category's description, and its own description, e.g.
-- "Insulated Cooler (Sports & Outdoors: Fitness, camping, ...). A rotomolded
-- ...". The kind (products.metadata->>'type') stands in for the name where it is
-- known: brand, variant and colour in the name pulled a plain question's
-- nearest products across departments, and keyword search finds names anyway
-- (benchmarks/search_quality.py: hybrid precision@5 0.749 with the name, 0.813
-- with the kind). Without a kind, the name is used.
-- Defined once, here: labkit.embed_catalog() embeds this text, and seeding
-- keeps a product's embedding only while its stored text still equals it.
DROP FUNCTION IF EXISTS retail.product_embedding_text(varchar, text, varchar);
CREATE OR REPLACE FUNCTION retail.product_embedding_text(
    product_name varchar, product_description text, category_name varchar,
    product_type text DEFAULT NULL, category_description text DEFAULT NULL
) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
RETURN coalesce(nullif(product_type, ''), product_name)
    || coalesce(' (' || nullif(category_name, '')
                || coalesce(': ' || nullif(category_description, ''), '') || ')', '')
    || coalesce('. ' || nullif(product_description, ''), '');
REVOKE ALL ON FUNCTION retail.product_embedding_text(varchar, text, varchar, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.product_embedding_text(varchar, text, varchar, text, text) TO retail_app;

-- section: embedding_models
-- The models the search function knows, with their vectors' size and the tag
-- their indexes are named by: the one place that says so. Adding a model is a
-- row here and `labkit setup`.
CREATE OR REPLACE FUNCTION retail.embedding_models()
RETURNS TABLE (embedding_model varchar, dimensions integer, index_tag text)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('text-embedding-3-small'::varchar, 1536, 'te3small'),
           ('all-MiniLM-L6-v2-int8'::varchar, 384, 'minilm')
$$;
REVOKE ALL ON FUNCTION retail.embedding_models() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.embedding_models() TO retail_app;

-- section: store_indexes
-- One HNSW graph per store and model, with cosine distance (vector_cosine_ops,
-- the <=> operator). A graph over the whole table would serve every store, but
-- a store's search would then walk the other stores' vectors and throw them
-- away: a store with 1% of the rows searched slower than a full scan of its own
-- rows (34.5 ms against 6.0 ms at 100,000 products, benchmarks/vector_search.py),
-- and EXPLAIN ANALYZE's "Rows Removed by Filter" counted how many of the other
-- stores' products lay near any vector a tenant cared to ask about. A store's
-- own graph holds only its rows: small stores are searched as fast as large
-- ones, and nothing of another store is ever visited.
--
-- m = 16 is pgvector's default; ef_construction = 128 twice its default, for a
-- recall@10 above 0.98 at ef_search 100 (benchmarks/vector_search.py).
-- A store added later gets its graphs from the trigger below; a store deleted
-- takes them with it.
CREATE OR REPLACE FUNCTION retail.store_vector_index(store varchar, model varchar)
RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
    -- Readable when it fits in an identifier (63 bytes), else by the store's md5.
    SELECT CASE WHEN octet_length(name) <= 63 THEN name
                ELSE 'product_embeddings_' || m.index_tag || '_hnsw_' || left(md5(store), 16) END
    FROM retail.embedding_models() AS m,
         LATERAL (SELECT 'product_embeddings_' || m.index_tag || '_hnsw_' || store) AS n (name)
    WHERE m.embedding_model = model
$$;

CREATE OR REPLACE FUNCTION retail.build_store_vector_indexes(store varchar) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    built integer := 0;
BEGIN
    FOR m IN SELECT embedding_model, dimensions FROM retail.embedding_models() ORDER BY embedding_model LOOP
        IF pg_catalog.to_regclass(pg_catalog.quote_ident('retail') || '.'
               || pg_catalog.quote_ident(retail.store_vector_index(store, m.embedding_model))) IS NULL THEN
            EXECUTE pg_catalog.format(
                'CREATE INDEX %I ON retail.product_embeddings'
                ' USING hnsw ((embedding::public.vector(%s)) public.vector_cosine_ops)'
                ' WITH (m = 16, ef_construction = 128)'
                ' WHERE embedding_model = %L AND store_id = %L',
                retail.store_vector_index(store, m.embedding_model), m.dimensions,
                m.embedding_model, store);
            built := built + 1;
        END IF;
    END LOOP;
    RETURN built;
END
$$;

CREATE OR REPLACE FUNCTION retail.drop_store_vector_indexes(store varchar) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT embedding_model FROM retail.embedding_models() LOOP
        EXECUTE pg_catalog.format('DROP INDEX IF EXISTS retail.%I',
                                  retail.store_vector_index(store, m.embedding_model));
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION retail.store_vector_indexes_follow() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM retail.build_store_vector_indexes(NEW.store_id);
    ELSE
        PERFORM retail.drop_store_vector_indexes(OLD.store_id);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION retail.store_vector_index(varchar, varchar) FROM PUBLIC;
REVOKE ALL ON FUNCTION retail.build_store_vector_indexes(varchar) FROM PUBLIC;
REVOKE ALL ON FUNCTION retail.drop_store_vector_indexes(varchar) FROM PUBLIC;
REVOKE ALL ON FUNCTION retail.store_vector_indexes_follow() FROM PUBLIC;
CREATE OR REPLACE TRIGGER stores_vector_indexes
    AFTER INSERT OR DELETE ON retail.stores
    FOR EACH ROW EXECUTE FUNCTION retail.store_vector_indexes_follow();

-- The graphs of the stores there are, and none over every store (which the
-- lab's first version had).
DROP INDEX IF EXISTS retail.product_embeddings_minilm_hnsw_idx;
DROP INDEX IF EXISTS retail.product_embeddings_te3small_hnsw_idx;
SELECT retail.build_store_vector_indexes(store_id) AS indexes_built
FROM retail.stores ORDER BY store_id;

-- section: search_function
-- The lab text's three-argument version, if an attendee created it, would make
-- every call with one to three arguments ambiguous next to this one.
DROP FUNCTION IF EXISTS retail.search_products_by_similarity(vector, double precision, integer);

-- The current store's active products, most similar first: similarity_score is
-- 1 - cosine distance, and only scores of at least similarity_threshold count
-- (NULL: no threshold). The model is the one named, or the one of
-- retail.embedding_models() whose vectors have the query vector's size.
--
-- SECURITY INVOKER (the default): the caller's row-level security applies, so the
-- store context of retail.set_store_context() picks the store, and the policy
-- filters every row as for any other query. search_path is pinned to where the
-- built-ins and pgvector live.
--
-- The query is built per call with the model's name and size and the store of
-- the context as literals, so that the planner can match that store's partial
-- index (a parameter could not prove "store_id = 'X'"): the planner cannot see
-- the store in the context, the function can. A store without a graph (none is
-- built for a model without rows of the store, or its index was dropped) is
-- searched exactly, through the B-tree on (store_id, embedding_model). Without
-- a store in the context (an administrator), every visible row is compared.
-- pgvector 0.8's iterative scan keeps searching the graph when the LIMIT is not
-- reached after the inactive products are filtered out; relaxed_order lets
-- results come slightly out of order, which the outer ORDER BY puts right.
-- ef_search = 100 is what reaches recall@10 >= 0.98 in the benchmark. The
-- threshold is applied after the LIMIT: the nearest rows above a threshold are
-- the nearest rows, cut at the threshold, and the index never has to look for
-- rows that do not exist.
CREATE OR REPLACE FUNCTION retail.search_products_by_similarity(
    search_embedding vector,
    similarity_threshold double precision DEFAULT 0.7,
    max_results integer DEFAULT 20,
    embedding_model varchar DEFAULT NULL
) RETURNS TABLE (
    product_id uuid,
    product_name varchar,
    product_description text,
    brand varchar,
    price numeric,
    similarity_score double precision
)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, public
    SET hnsw.iterative_scan = relaxed_order
    SET hnsw.ef_search = 100
AS $function$
DECLARE
    dims  integer := vector_dims(search_embedding);
    known integer;
    model varchar := embedding_model;
    store varchar := retail.current_store_id();
BEGIN
    IF search_embedding IS NULL THEN
        RAISE EXCEPTION 'a search embedding is required'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Embed the search text with the products'' model and pass the vector.';
    END IF;
    IF max_results IS NULL OR max_results < 1 THEN
        RAISE EXCEPTION 'max_results must be 1 or more, not %', coalesce(max_results::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF model IS NULL THEN
        SELECT m.embedding_model INTO model FROM retail.embedding_models() AS m WHERE m.dimensions = dims;
    END IF;
    IF model IS NULL THEN
        RAISE EXCEPTION 'no embedding model is known for vectors of % dimensions', dims
            USING ERRCODE = 'data_exception',
                  HINT = 'Embed the query with one of the models of retail.embedding_models() ('
                         || (SELECT string_agg(m.embedding_model || ', ' || m.dimensions, '; '
                                               ORDER BY m.embedding_model)
                             FROM retail.embedding_models() AS m)
                         || '), or name the model: embedding_model => ''...''.';
    END IF;
    SELECT m.dimensions INTO known FROM retail.embedding_models() AS m WHERE m.embedding_model = model;
    IF known IS NOT NULL AND known <> dims THEN
        RAISE EXCEPTION '% vectors have % dimensions, the query vector has %', model, known, dims
            USING ERRCODE = 'data_exception',
                  HINT = 'Embed the query with the same model as the products.';
    END IF;
    RETURN QUERY EXECUTE pg_catalog.format($query$
        SELECT nearest.product_id, nearest.product_name, nearest.product_description,
               nearest.brand, nearest.price, 1 - nearest.distance
        FROM (
            SELECT p.product_id, p.product_name, p.product_description, p.brand, p.price,
                   e.embedding::vector(%1$s) <=> $1::vector(%1$s) AS distance
            FROM retail.product_embeddings AS e
            JOIN retail.products AS p ON p.store_id = e.store_id AND p.product_id = e.product_id
            WHERE e.embedding_model = %2$L AND p.is_active %3$s
            ORDER BY e.embedding::vector(%1$s) <=> $1::vector(%1$s)
            LIMIT $2
        ) AS nearest
        WHERE $3 IS NULL OR 1 - nearest.distance >= $3
        ORDER BY nearest.distance, nearest.product_id
        $query$, dims, model,
        CASE WHEN store IS NOT NULL THEN pg_catalog.format('AND e.store_id = %L', store) ELSE '' END)
        USING search_embedding, max_results, similarity_threshold;
END
$function$;
REVOKE ALL ON FUNCTION retail.search_products_by_similarity(vector, double precision, integer, varchar) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retail.search_products_by_similarity(vector, double precision, integer, varchar) TO retail_app;
