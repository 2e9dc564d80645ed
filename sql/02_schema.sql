-- The retail schema: one shared database and one shared schema for every store
-- (shared-database, shared-schema multi-tenancy). Every row that belongs to a
-- store carries store_id; row-level security builds on that column.
--
-- The lab text never creates the schema and its first CREATE TABLE fails on a
-- fresh server (SPEC defect 1). Everything here is idempotent: running the file
-- again changes nothing.

-- section: schema
CREATE SCHEMA IF NOT EXISTS retail AUTHORIZATION retail_owner;
COMMENT ON SCHEMA retail IS 'Zava Retail: stores, customers, products, sales and embeddings';

-- Everything below is created by, and owned by, retail_owner.
SET LOCAL ROLE retail_owner;
-- Built-ins first, then public for the vector type; no user schema can shadow them.
SET LOCAL search_path = pg_catalog, public;

-- section: stores
-- The tenant registry. store_id is a readable key ('seattle'), the value that
-- app.current_store_id holds.
CREATE TABLE IF NOT EXISTS retail.stores (
    store_id        varchar(50)  PRIMARY KEY,
    store_name      varchar(100) NOT NULL,
    store_location  varchar(100),
    store_type      varchar(50),
    region          varchar(50),
    created_at      timestamptz  NOT NULL DEFAULT now(),
    updated_at      timestamptz  NOT NULL DEFAULT now(),
    is_active       boolean      NOT NULL DEFAULT true
);

-- section: customers
-- A customer belongs to one store. (store_id, customer_id) is unique so that a
-- sale can reference the pair and never name another store's customer.
--
-- Email is unique per store, not across stores: a defect of the lab text, whose
-- global `email UNIQUE` is an oracle. Inserting an email that another store's
-- customer has fails with a unique violation (ON CONFLICT DO NOTHING inserts 0
-- rows instead of 1), so any store learns who shops elsewhere. Likewise every
-- secondary index and unique key on store rows leads with store_id: an index
-- scan evaluates a query's own (leakproof) predicate on the index entries before
-- row-level security filters the rows it found, and EXPLAIN (ANALYZE) reports
-- the other stores' matches as "Rows Removed by Filter". Led by store_id, the
-- scan only ever reads the querying store's entries.
CREATE TABLE IF NOT EXISTS retail.customers (
    customer_id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    store_id              varchar(50)   NOT NULL REFERENCES retail.stores (store_id),
    first_name            varchar(50)   NOT NULL,
    last_name             varchar(50)   NOT NULL,
    email                 varchar(100)  NOT NULL,
    phone                 varchar(20),
    date_of_birth         date,
    gender                varchar(20),
    customer_since        date          NOT NULL DEFAULT current_date,
    loyalty_tier          varchar(20)   NOT NULL DEFAULT 'bronze'
        CHECK (loyalty_tier IN ('bronze', 'silver', 'gold', 'platinum')),
    total_lifetime_value  numeric(10,2) NOT NULL DEFAULT 0 CHECK (total_lifetime_value >= 0),
    created_at            timestamptz   NOT NULL DEFAULT now(),
    updated_at            timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (store_id, customer_id),
    CONSTRAINT customers_store_email_key UNIQUE (store_id, email)
);
-- A database made by an earlier version of this file has the global key: replace it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint
                   WHERE conrelid = 'retail.customers'::regclass AND conname = 'customers_store_email_key') THEN
        ALTER TABLE retail.customers ADD CONSTRAINT customers_store_email_key UNIQUE (store_id, email);
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_constraint
               WHERE conrelid = 'retail.customers'::regclass AND conname = 'customers_email_key') THEN
        ALTER TABLE retail.customers DROP CONSTRAINT customers_email_key;
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS customers_store_idx ON retail.customers (store_id, loyalty_tier);

-- section: product_categories
-- Shared reference data: every store uses the same seven categories.
CREATE TABLE IF NOT EXISTS retail.product_categories (
    category_id         serial       PRIMARY KEY,
    category_name       varchar(100) NOT NULL UNIQUE,
    parent_category_id  integer      REFERENCES retail.product_categories (category_id),
    description         text,
    is_active           boolean      NOT NULL DEFAULT true
);

-- section: products
-- Each store has its own catalog: the same SKU may exist in two stores, but only
-- once per store.
CREATE TABLE IF NOT EXISTS retail.products (
    product_id           uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    store_id             varchar(50)   NOT NULL REFERENCES retail.stores (store_id),
    sku                  varchar(50)   NOT NULL,
    product_name         varchar(200)  NOT NULL,
    product_description  text,
    category_id          integer       REFERENCES retail.product_categories (category_id),
    brand                varchar(100),
    model                varchar(100),
    color                varchar(50),
    size                 varchar(50),
    weight_kg            numeric(8,3)  CHECK (weight_kg >= 0),
    dimensions_cm        varchar(50),
    price                numeric(10,2) NOT NULL CHECK (price >= 0),
    cost                 numeric(10,2) CHECK (cost >= 0),
    current_stock        integer       NOT NULL DEFAULT 0 CHECK (current_stock >= 0),
    minimum_stock        integer       NOT NULL DEFAULT 0 CHECK (minimum_stock >= 0),
    maximum_stock        integer       CHECK (maximum_stock >= minimum_stock),
    reorder_point        integer       NOT NULL DEFAULT 0 CHECK (reorder_point >= 0),
    supplier_name        varchar(100),
    supplier_sku         varchar(50),
    is_active            boolean       NOT NULL DEFAULT true,
    is_featured          boolean       NOT NULL DEFAULT false,
    rating_average       numeric(3,2)  CHECK (rating_average BETWEEN 0 AND 5),
    rating_count         integer       NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    tags                 text[]        NOT NULL DEFAULT '{}',
    metadata             jsonb         NOT NULL DEFAULT '{}',
    created_at           timestamptz   NOT NULL DEFAULT now(),
    updated_at           timestamptz   NOT NULL DEFAULT now(),
    UNIQUE (store_id, sku),
    UNIQUE (store_id, product_id)
);
CREATE INDEX IF NOT EXISTS products_store_category_idx ON retail.products (store_id, category_id);
-- Full-text search over name, description, model and brand (keyword search, and
-- the text half of hybrid search). to_tsvector with an explicit configuration is
-- immutable, so it can be indexed; labkit/product_search.py repeats the
-- expression word for word, or the planner would not use the index. A model code
-- such as TB-4821K becomes the whole code and its two parts ('tb-4821k', 'tb',
-- '4821k'), and websearch_to_tsquery turns the code as typed, in any case, into
-- the same three in a row, so the code alone, or after the brand, finds its
-- product. The brand is there for the products whose name does not carry it (a
-- book's publisher), so that the publisher, alone or before a code, finds them.
-- Model and brand go last so the name's and description's word positions, which
-- ts_rank_cd weighs by proximity, stay as they were.
--
-- These two GIN indexes do not lead with store_id (GIN cannot, without the
-- btree_gin extension, which not every server has), yet they are no oracle: @@
-- and the array operators are not LEAKPROOF, so under row-level security the
-- planner never runs them inside an index scan before the policy; a tenant's
-- search reads its own store's rows by the store_id indexes and filters them
-- (tests/test_attacks.py checks both facts). They serve the sessions that
-- bypass row-level security (the administrator's reports, maintenance).
-- Earlier versions indexed name and description (then the model) only, and IF NOT
-- EXISTS would keep that index: one of this name that does not read the brand
-- column is rebuilt.
DO $$
BEGIN
    IF pg_catalog.to_regclass('retail.products_search_idx') IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                       JOIN pg_catalog.pg_attribute AS a
                         ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                       WHERE d.classid = 'pg_catalog.pg_class'::regclass
                         AND d.objid = pg_catalog.to_regclass('retail.products_search_idx')
                         AND d.refobjid = 'retail.products'::regclass AND a.attname = 'brand') THEN
        DROP INDEX retail.products_search_idx;
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS products_search_idx ON retail.products USING gin (
    to_tsvector('english'::regconfig,
                product_name || ' ' || coalesce(product_description, '') || ' ' || coalesce(model, '')
                || ' ' || coalesce(brand, ''))
);
CREATE INDEX IF NOT EXISTS products_tags_idx ON retail.products USING gin (tags);

-- section: sales_transactions
-- A sale, return or exchange at one store. The customer is referenced together
-- with the store, so a transaction can only name a customer of its own store.
-- Amounts are never negative: transaction_type says which way the money goes
-- (a sale is paid, a return refunded, an exchange settled with the goods taken
-- back). The total is the goods at their unit prices, less discounts, plus tax;
-- that the header equals the sum of its lines is tested, as a CHECK cannot see
-- other rows.
CREATE TABLE IF NOT EXISTS retail.sales_transactions (
    transaction_id    uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    store_id          varchar(50)   NOT NULL REFERENCES retail.stores (store_id),
    customer_id       uuid,
    transaction_date  timestamptz   NOT NULL DEFAULT now(),
    transaction_type  varchar(20)   NOT NULL DEFAULT 'sale'
        CHECK (transaction_type IN ('sale', 'return', 'exchange')),
    payment_method    varchar(20)
        CHECK (payment_method IN ('cash', 'credit_card', 'debit_card', 'digital_wallet')),
    subtotal          numeric(10,2) NOT NULL DEFAULT 0 CHECK (subtotal >= 0),
    tax_amount        numeric(10,2) NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
    discount_amount   numeric(10,2) NOT NULL DEFAULT 0
        CHECK (discount_amount >= 0 AND discount_amount <= subtotal),
    total_amount      numeric(10,2) NOT NULL DEFAULT 0,
    cashier_id        varchar(50),
    register_id       varchar(50),
    receipt_number    varchar(100),
    notes             text,
    metadata          jsonb         NOT NULL DEFAULT '{}',
    created_at        timestamptz   NOT NULL DEFAULT now(),
    FOREIGN KEY (store_id, customer_id) REFERENCES retail.customers (store_id, customer_id),
    CONSTRAINT sales_transactions_amounts_add_up
        CHECK (total_amount = subtotal - discount_amount + tax_amount),
    UNIQUE (store_id, transaction_id)
);
-- The filters every report uses: one store, a date range, a transaction type.
CREATE INDEX IF NOT EXISTS sales_transactions_store_date_idx
    ON retail.sales_transactions (store_id, transaction_date);
CREATE INDEX IF NOT EXISTS sales_transactions_store_type_date_idx
    ON retail.sales_transactions (store_id, transaction_type, transaction_date);
DROP INDEX IF EXISTS retail.sales_transactions_customer_idx;  -- not led by store_id (earlier versions)
CREATE INDEX IF NOT EXISTS sales_transactions_store_customer_idx
    ON retail.sales_transactions (store_id, customer_id);

-- section: sales_transaction_items
-- A line item belongs to its transaction's store. It carries that store_id too,
-- kept equal to the transaction's by a composite foreign key, and its product
-- must be one of the same store's. Row-level security then filters items by
-- store_id directly instead of looking up each item's transaction (measured: a
-- store's top products took twice as long that way). Code that inserts items
-- without a store_id still works: a trigger copies it from the transaction.
-- A line's total_price is before tax: its goods at the unit price, less discount.
CREATE TABLE IF NOT EXISTS retail.sales_transaction_items (
    item_id          uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    transaction_id   uuid          NOT NULL,
    product_id       uuid          NOT NULL,
    quantity         integer       NOT NULL CHECK (quantity > 0),
    unit_price       numeric(10,2) NOT NULL CHECK (unit_price >= 0),
    total_price      numeric(10,2) NOT NULL CHECK (total_price >= 0),
    discount_amount  numeric(10,2) NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    tax_amount       numeric(10,2) NOT NULL DEFAULT 0 CHECK (tax_amount >= 0),
    created_at       timestamptz   NOT NULL DEFAULT now(),
    store_id         varchar(50)   NOT NULL,
    CONSTRAINT sales_transaction_items_amounts_add_up
        CHECK (total_price = quantity * unit_price - discount_amount),
    FOREIGN KEY (store_id, transaction_id)
        REFERENCES retail.sales_transactions (store_id, transaction_id) ON DELETE CASCADE,
    FOREIGN KEY (store_id, product_id) REFERENCES retail.products (store_id, product_id)
);
DROP INDEX IF EXISTS retail.sales_transaction_items_transaction_idx;  -- not led by store_id (earlier versions)
CREATE INDEX IF NOT EXISTS sales_transaction_items_store_transaction_idx
    ON retail.sales_transaction_items (store_id, transaction_id);
CREATE INDEX IF NOT EXISTS sales_transaction_items_store_product_idx
    ON retail.sales_transaction_items (store_id, product_id);

-- SECURITY INVOKER: the lookup sees only the transactions the inserting role may
-- see, so an item for another store's transaction gets no store_id and is refused.
CREATE OR REPLACE FUNCTION retail.item_store_from_transaction() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT t.store_id INTO NEW.store_id
    FROM retail.sales_transactions AS t
    WHERE t.transaction_id = NEW.transaction_id;
    RETURN NEW;
END
$$;
CREATE OR REPLACE TRIGGER sales_transaction_items_store_id
    BEFORE INSERT ON retail.sales_transaction_items
    FOR EACH ROW WHEN (NEW.store_id IS NULL)
    EXECUTE FUNCTION retail.item_store_from_transaction();

-- section: product_embeddings
-- One embedding per product per model. The column is an untyped vector, so
-- models of different sizes can live side by side; each model gets its own
-- partial index on a typed cast, and queries filter on embedding_model so that
-- vectors of different models are never compared. The store travels with the
-- product: (store_id, product_id) must match a product of that store.
CREATE TABLE IF NOT EXISTS retail.product_embeddings (
    embedding_id     uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    product_id       uuid          NOT NULL,
    store_id         varchar(50)   NOT NULL,
    embedding_text   text          NOT NULL,
    embedding        vector        NOT NULL,
    embedding_model  varchar(100)  NOT NULL DEFAULT 'text-embedding-3-small',
    created_at       timestamptz   NOT NULL DEFAULT now(),
    updated_at       timestamptz   NOT NULL DEFAULT now(),
    CONSTRAINT product_embeddings_store_product_model_key UNIQUE (store_id, product_id, embedding_model),
    FOREIGN KEY (store_id, product_id)
        REFERENCES retail.products (store_id, product_id) ON DELETE CASCADE
);
-- Earlier versions had UNIQUE (product_id, embedding_model), not led by store_id.
-- A product belongs to one store, so the store-led key allows exactly the same rows.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = 'retail.product_embeddings'::regclass
                   AND conname = 'product_embeddings_store_product_model_key') THEN
        ALTER TABLE retail.product_embeddings ADD CONSTRAINT product_embeddings_store_product_model_key
            UNIQUE (store_id, product_id, embedding_model);
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = 'retail.product_embeddings'::regclass
               AND conname = 'product_embeddings_product_id_embedding_model_key') THEN
        ALTER TABLE retail.product_embeddings DROP CONSTRAINT product_embeddings_product_id_embedding_model_key;
    END IF;
END
$$;
CREATE INDEX IF NOT EXISTS product_embeddings_store_idx
    ON retail.product_embeddings (store_id, embedding_model);
-- The HNSW indexes (one per store and model) are in 05_vector_search.sql.

-- section: audit_log
-- Who changed what, written by triggers. record_id is the changed row's own key.
--
-- The log must outlast whoever it records, the schema owner included: a table's
-- owner can always disable its triggers, UPDATE, TRUNCATE or DROP it, and a
-- schema's owner can drop anything in the schema. So the log lives in a schema
-- of its own, owned by retail_audit, a role that cannot log in and that no
-- login is a member of; retail.audit_log is a view of it, so the name reads as
-- before. Only functions owned by retail_audit write it (sql/04_security.sql).
RESET ROLE;
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'retail_audit') THEN
        CREATE SCHEMA retail_audit AUTHORIZATION retail_audit;
    END IF;
END
$$;
-- A database made by an earlier version of this file has the log as a table
-- retail.audit_log owned by retail_owner: move it, rows and all.
DO $$
BEGIN
    IF (SELECT c.relkind FROM pg_catalog.pg_class AS c WHERE c.oid = pg_catalog.to_regclass('retail.audit_log')) = 'r' THEN
        DROP TRIGGER IF EXISTS audit_log_append_only ON retail.audit_log;
        DROP TRIGGER IF EXISTS audit_log_no_truncate ON retail.audit_log;
        DROP POLICY IF EXISTS store_reads_own_audit ON retail.audit_log;
        REVOKE ALL ON retail.audit_log FROM retail_app;
        ALTER TABLE retail.audit_log SET SCHEMA retail_audit;
        ALTER TABLE retail_audit.audit_log OWNER TO retail_audit;
        DROP INDEX IF EXISTS retail_audit.audit_log_record_idx;
    END IF;
    -- An intermediate version gave the view to retail_audit; its DDL guard must
    -- let the administrator hand it back (04_security.sql enables it again).
    IF (SELECT c.relowner FROM pg_catalog.pg_class AS c
        WHERE c.oid = pg_catalog.to_regclass('retail.audit_log') AND c.relkind = 'v') = 'retail_audit'::regrole THEN
        IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'retail_audit_guard_ddl_command_end') THEN
            ALTER EVENT TRIGGER retail_audit_guard_ddl_command_end DISABLE;
        END IF;
        ALTER VIEW retail.audit_log OWNER TO retail_owner;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA retail TO retail_audit;
-- An earlier version let retail_audit create objects in retail; it needs none there.
DO $$
BEGIN
    IF pg_catalog.has_schema_privilege('retail_audit', 'retail', 'CREATE') THEN
        REVOKE CREATE ON SCHEMA retail FROM retail_audit;
    END IF;
END
$$;
SET LOCAL ROLE retail_audit;
COMMENT ON SCHEMA retail_audit IS 'Zava Retail: the audit log and the store context''s key';
CREATE TABLE IF NOT EXISTS retail_audit.audit_log (
    log_id      uuid          PRIMARY KEY DEFAULT gen_random_uuid(),
    table_name  varchar(100)  NOT NULL,
    action      varchar(20)   NOT NULL,
    user_name   varchar(100)  NOT NULL DEFAULT current_user,
    store_id    varchar(50),
    record_id   uuid,
    old_values  jsonb,
    new_values  jsonb,
    metadata    jsonb         NOT NULL DEFAULT '{}',
    -- clock_timestamp(), not now(): now() is the transaction's start, so every
    -- change made in one transaction would carry the same time and no order.
    created_at  timestamptz   NOT NULL DEFAULT clock_timestamp()
);
-- Store first, like every index on store rows (see customers).
CREATE INDEX IF NOT EXISTS audit_log_store_time_idx ON retail_audit.audit_log (store_id, created_at);
CREATE INDEX IF NOT EXISTS audit_log_store_record_idx
    ON retail_audit.audit_log (store_id, table_name, record_id);
GRANT USAGE ON SCHEMA retail_audit TO retail_owner;
GRANT SELECT ON retail_audit.audit_log TO retail_owner;
SET LOCAL ROLE retail_owner;
-- The view is only a name: the schema's owner could drop or replace it, never the
-- log (and where the DDL guard of 04_security.sql runs, not even that, so it is
-- created only when missing). security_invoker: whoever reads it is held to the
-- log's own policies.
DO $$
BEGIN
    IF pg_catalog.to_regclass('retail.audit_log') IS NULL THEN
        CREATE VIEW retail.audit_log WITH (security_invoker = true) AS
            SELECT log_id, table_name, action, user_name, store_id, record_id,
                   old_values, new_values, metadata, created_at
            FROM retail_audit.audit_log;
    END IF;
END
$$;

-- section: updated_at
-- updated_at means "last changed", so the database keeps it, not each client.
CREATE OR REPLACE FUNCTION retail.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE OR REPLACE TRIGGER stores_touch_updated_at
    BEFORE UPDATE ON retail.stores
    FOR EACH ROW EXECUTE FUNCTION retail.touch_updated_at();
CREATE OR REPLACE TRIGGER customers_touch_updated_at
    BEFORE UPDATE ON retail.customers
    FOR EACH ROW EXECUTE FUNCTION retail.touch_updated_at();
CREATE OR REPLACE TRIGGER products_touch_updated_at
    BEFORE UPDATE ON retail.products
    FOR EACH ROW EXECUTE FUNCTION retail.touch_updated_at();
CREATE OR REPLACE TRIGGER product_embeddings_touch_updated_at
    BEFORE UPDATE ON retail.product_embeddings
    FOR EACH ROW EXECUTE FUNCTION retail.touch_updated_at();
