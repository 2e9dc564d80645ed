"""The names the lab must keep, as SPEC.md states them.

Attendees copy these from the lab text and the next lab's MCP server queries
them, so notebooks and tests check the live catalog against this module.
Types are spelled as ``pg_catalog.format_type`` prints them.
"""

from __future__ import annotations

SCHEMA = "retail"
#: Owns the schema and every table in it; neither superuser nor the app login.
OWNER_ROLE = "retail_owner"
#: The application's login: chooses its store per transaction (retail.set_store_context).
APP_ROLE = "mcp_user"
#: Store logins, each bound to its own store (retail.store_logins).
STORE_LOGINS: dict[str, str] = {
    "seattle_manager": "seattle",
    "redmond_manager": "redmond",
    "bellevue_manager": "bellevue",
    "online_manager": "online",
}
#: Roles that log in with a generated password.
LOGIN_ROLES: tuple[str, ...] = (OWNER_ROLE, APP_ROLE, *STORE_LOGINS)
#: The group whose privileges the application logins inherit (and cannot SET ROLE to).
APP_GROUP = "retail_app"
#: Owns the audit log and the store context's key; cannot log in, has no members.
AUDIT_ROLE = "retail_audit"
#: The schema of the audit log (retail.audit_log is a view of it).
AUDIT_SCHEMA = "retail_audit"
#: The key that signs store contexts (sql/04, section context_key): it never leaves its
#: database. Backups leave its row out and do not fingerprint it; a restored database
#: gets a key of its own, so a context signed in one database means nothing in another.
CONTEXT_KEY_TABLE = "retail_audit.context_key"
#: Every role sql/00_roles.sql creates.
ROLES: tuple[str, ...] = (*LOGIN_ROLES, APP_GROUP, AUDIT_ROLE)
STORE_SETTING = "app.current_store_id"
EMBEDDING_MODEL = "text-embedding-3-small"
EMBEDDING_DIMENSIONS = 1536
#: The offline model the lab adds (no API key needed): all-MiniLM-L6-v2 as an
#: int8 ONNX export. Its own name, since its vectors differ from the fp32 model's.
OFFLINE_EMBEDDING_MODEL = "all-MiniLM-L6-v2-int8"
OFFLINE_EMBEDDING_DIMENSIONS = 384
# Which models the database knows, and their sizes: retail.embedding_models() (sql/05).

VARCHAR = "character varying"
TIMESTAMPTZ = "timestamp with time zone"
MONEY = "numeric(10,2)"

#: table -> {column: type}, in the order SPEC.md lists them.
TABLES: dict[str, dict[str, str]] = {
    "stores": {
        "store_id": f"{VARCHAR}(50)",
        "store_name": f"{VARCHAR}(100)",
        "store_location": f"{VARCHAR}(100)",
        "store_type": f"{VARCHAR}(50)",
        "region": f"{VARCHAR}(50)",
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
        "is_active": "boolean",
    },
    "customers": {
        "customer_id": "uuid",
        "store_id": f"{VARCHAR}(50)",
        "first_name": f"{VARCHAR}(50)",
        "last_name": f"{VARCHAR}(50)",
        "email": f"{VARCHAR}(100)",
        "phone": f"{VARCHAR}(20)",
        "date_of_birth": "date",
        "gender": f"{VARCHAR}(20)",
        "customer_since": "date",
        "loyalty_tier": f"{VARCHAR}(20)",
        "total_lifetime_value": MONEY,
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
    },
    "product_categories": {
        "category_id": "integer",
        "category_name": f"{VARCHAR}(100)",
        "parent_category_id": "integer",
        "description": "text",
        "is_active": "boolean",
    },
    "products": {
        "product_id": "uuid",
        "store_id": f"{VARCHAR}(50)",
        "sku": f"{VARCHAR}(50)",
        "product_name": f"{VARCHAR}(200)",
        "product_description": "text",
        "category_id": "integer",
        "brand": f"{VARCHAR}(100)",
        "model": f"{VARCHAR}(100)",
        "color": f"{VARCHAR}(50)",
        "size": f"{VARCHAR}(50)",
        "weight_kg": "numeric(8,3)",
        "dimensions_cm": f"{VARCHAR}(50)",
        "price": MONEY,
        "cost": MONEY,
        "current_stock": "integer",
        "minimum_stock": "integer",
        "maximum_stock": "integer",
        "reorder_point": "integer",
        "supplier_name": f"{VARCHAR}(100)",
        "supplier_sku": f"{VARCHAR}(50)",
        "is_active": "boolean",
        "is_featured": "boolean",
        "rating_average": "numeric(3,2)",
        "rating_count": "integer",
        "tags": "text[]",
        "metadata": "jsonb",
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
    },
    "sales_transactions": {
        "transaction_id": "uuid",
        "store_id": f"{VARCHAR}(50)",
        "customer_id": "uuid",
        "transaction_date": TIMESTAMPTZ,
        "transaction_type": f"{VARCHAR}(20)",
        "payment_method": f"{VARCHAR}(20)",
        "subtotal": MONEY,
        "tax_amount": MONEY,
        "discount_amount": MONEY,
        "total_amount": MONEY,
        "cashier_id": f"{VARCHAR}(50)",
        "register_id": f"{VARCHAR}(50)",
        "receipt_number": f"{VARCHAR}(100)",
        "notes": "text",
        "metadata": "jsonb",
        "created_at": TIMESTAMPTZ,
    },
    "sales_transaction_items": {
        "item_id": "uuid",
        "transaction_id": "uuid",
        "product_id": "uuid",
        "quantity": "integer",
        "unit_price": MONEY,
        "total_price": MONEY,
        "discount_amount": MONEY,
        "tax_amount": MONEY,
        "created_at": TIMESTAMPTZ,
    },
    "product_embeddings": {
        "embedding_id": "uuid",
        "product_id": "uuid",
        "store_id": f"{VARCHAR}(50)",
        "embedding_text": "text",
        "embedding": "vector",
        "embedding_model": f"{VARCHAR}(100)",
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
    },
    "audit_log": {
        "log_id": "uuid",
        "table_name": f"{VARCHAR}(100)",
        "action": f"{VARCHAR}(20)",
        "user_name": f"{VARCHAR}(100)",
        "store_id": f"{VARCHAR}(50)",
        "record_id": "uuid",
        "old_values": "jsonb",
        "new_values": "jsonb",
        "metadata": "jsonb",
        "created_at": TIMESTAMPTZ,
    },
}

#: Tables the lab adds beyond SPEC.md.
LAB_TABLES: dict[str, dict[str, str]] = {
    # Which store each store login may act for (row-level security).
    "store_logins": {"role_name": "name", "store_id": f"{VARCHAR}(50)"},
}

#: Columns the lab adds to SPEC.md's tables, after SPEC's own.
LAB_COLUMNS: dict[str, dict[str, str]] = {
    # The transaction's store, so row-level security filters items directly.
    "sales_transaction_items": {"store_id": f"{VARCHAR}(50)"},
}


def schema_tables() -> dict[str, dict[str, str]]:
    """Every table of the schema with its columns in order: SPEC's, then the lab's."""
    tables = {name: {**columns, **LAB_COLUMNS.get(name, {})} for name, columns in TABLES.items()}
    return {**tables, **LAB_TABLES}


#: Tables whose rows belong to one store (row-level security applies), parents
#: first: the sample data's tables too (``sampledata.load.SAMPLE_TABLES``).
PER_STORE_TABLES: tuple[str, ...] = (
    "customers",
    "products",
    "sales_transactions",
    "sales_transaction_items",
    "product_embeddings",
)

#: store_id -> (store_name, store_type, region)
STORES: dict[str, tuple[str, str, str]] = {
    "seattle": ("Zava Retail Seattle", "flagship", "west"),
    "redmond": ("Zava Retail Redmond", "standard", "west"),
    "bellevue": ("Zava Retail Bellevue", "standard", "west"),
    "online": ("Zava Retail Online", "ecommerce", "global"),
}

CATEGORIES: tuple[str, ...] = (
    "Electronics",
    "Clothing",
    "Home & Garden",
    "Sports & Outdoors",
    "Books & Media",
    "Health & Beauty",
    "Automotive",
)
