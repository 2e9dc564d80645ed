"""A small, hand-written catalog for the search tests, in two stores of its own.

The products are described the way the sample data describes them. The stores
exist only while a test module needs them, so row-level security keeps these
products apart from whatever else the database holds (the sample data that
notebooks seed, for one), and searches see exactly this catalog.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

import labkit

SKU_PREFIX = "SEARCHTEST-"
NORTH, SOUTH = "searchtest_north", "searchtest_south"
STORES = (NORTH, SOUTH)

#: (store, category, name, description)
PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    (
        NORTH,
        "Sports & Outdoors",
        "Trailborne Insulated Cooler, 24 can",
        "A hard-sided insulated cooler that keeps drinks and food ice-cold for days on camping trips and beach outings.",
    ),
    (
        NORTH,
        "Clothing",
        "Harbor & Pine Alpine Down Jacket",
        "An 800-fill goose down jacket that keeps you warm in freezing winter weather, with a water-repellent shell.",
    ),
    (
        NORTH,
        "Electronics",
        "Kestrel Audio Quiet Over-Ear Headphones",
        "Foldable headphones with adaptive noise cancellation that block out plane and office noise.",
    ),
    (
        NORTH,
        "Home & Garden",
        "Hearth & Fern Cast Iron Skillet",
        "A pre-seasoned cast iron skillet for searing steaks, baking cornbread and frying eggs.",
    ),
    (
        NORTH,
        "Automotive",
        "Highway Haven Complete Car Wash Kit",
        "A pH-balanced car wash kit with soap, wax and microfiber towels for a shiny, spotless finish.",
    ),
    (
        NORTH,
        "Health & Beauty",
        "Pure Harbor Lavender Sleep Oil",
        "A calming lavender essential oil blend for the diffuser that helps you relax and fall asleep.",
    ),
    (
        NORTH,
        "Books & Media",
        "The Calm Mind (Self-Help Book)",
        "A hardcover self-help book with practical advice on stress, focus and better sleep.",
    ),
    (
        SOUTH,
        "Sports & Outdoors",
        "Summitcraft Soft Cooler Backpack",
        "A leak-proof soft cooler backpack that keeps canned drinks cold on hikes, picnics and camping trips.",
    ),
    (
        SOUTH,
        "Clothing",
        "Urban Fern Insulated Parka",
        "A long insulated parka with a fleece-lined hood for snowy commutes and cold winter days.",
    ),
    (
        SOUTH,
        "Electronics",
        "Lumora Wave Portable Bluetooth Speaker",
        "A waterproof portable speaker that plays music loud and clear at the beach or a backyard party.",
    ),
    (
        SOUTH,
        "Home & Garden",
        "Greenleaf Raised Garden Bed",
        "A cedar raised garden bed for growing vegetables, herbs and flowers on a patio.",
    ),
    (
        SOUTH,
        "Automotive",
        "Autoglow Cordless Car Vacuum",
        "A compact cordless handheld vacuum that picks up crumbs and pet hair from car seats.",
    ),
    (
        NORTH,
        "Sports & Outdoors",
        "Cascade Outfitters Waterproof Hiking Boots",
        "Full-grain leather hiking boots with a waterproof membrane that keep feet dry on muddy trails.",
    ),
    (
        NORTH,
        "Clothing",
        "Harbor & Pine Merino Wool Beanie",
        "A soft merino wool beanie that keeps your head warm on chilly winter walks.",
    ),
    (
        NORTH,
        "Books & Media",
        "Indie Folk Sessions Vinyl Record",
        "A 180-gram vinyl record of acoustic indie folk songs for the record player.",
    ),
    (
        NORTH,
        "Health & Beauty",
        "Pure Harbor Daily SPF 30 Sunscreen",
        "A lightweight sunscreen lotion that protects skin from sunburn outdoors.",
    ),
    (
        SOUTH,
        "Sports & Outdoors",
        "Peakline Weekender Cooler, 65 qt",
        "A rotomolded cooler that holds ice for five days on long camping and fishing trips.",
    ),
    (
        SOUTH,
        "Electronics",
        "Nimbus Tech Laptop Everyday 15",
        "A thin and light laptop for schoolwork, office work, video calls and streaming.",
    ),
    (
        SOUTH,
        "Home & Garden",
        "Hearth & Fern Santoku Chef's Knife",
        "A high-carbon stainless steel chef's knife for slicing, dicing and mincing in the kitchen.",
    ),
    (
        SOUTH,
        "Automotive",
        "Roadline Dashboard Phone Mount",
        "A one-hand car phone mount that holds a phone securely on the dashboard for navigation.",
    ),
)

#: Model codes, as the sample data draws them (brand initials, number, letter), for
#: some products: two of one brand one letter apart, one led by a stopword ("a"),
#: and one in the other store.
MODELS = {
    "Harbor & Pine Alpine Down Jacket": "HP-482K",
    "Harbor & Pine Merino Wool Beanie": "HP-482J",
    "Autoglow Cordless Car Vacuum": "A-590E",
    "Urban Fern Insulated Parka": "UF-731C",
    "The Calm Mind (Self-Help Book)": "CP-204B",
}
#: Brands, as the sample data's, where the name does not start with one: a book's
#: publisher (elsewhere the brand is the name's first word).
PUBLISHERS = {"The Calm Mind (Self-Help Book)": "Cascade Press"}


def write(admin: psycopg.Connection) -> dict[str, list[str]]:
    """Create the two stores and their catalog (as the superuser); returns the
    product ids per store."""
    remove(admin)
    for store in STORES:
        admin.execute(
            "INSERT INTO retail.stores (store_id, store_name, store_type, region)"
            " VALUES (%s, %s, 'test', 'none')",
            (store, f"Search test {store}"),
        )
    ids: dict[str, list[str]] = {}
    for number, (store, category, name, description) in enumerate(PRODUCTS):
        row = admin.execute(
            "INSERT INTO retail.products"
            " (store_id, sku, product_name, product_description, category_id, brand, model, price)"
            " SELECT %s, %s, %s, %s, category_id, coalesce(%s, split_part(%s, ' ', 1)), %s, 19.99"
            " FROM retail.product_categories WHERE category_name = %s RETURNING product_id",
            (
                store,
                f"{SKU_PREFIX}{number:03d}",
                name,
                description,
                PUBLISHERS.get(name),
                name,
                MODELS.get(name),
                category,
            ),
        ).fetchone()
        assert row is not None, category
        ids.setdefault(store, []).append(row[0])
    return ids


def remove(admin: psycopg.Connection) -> None:
    """Delete the catalog (its embeddings go with it, by cascade) and the stores."""
    admin.execute("DELETE FROM retail.products WHERE store_id = ANY(%s)", (list(STORES),))
    admin.execute("DELETE FROM retail.stores WHERE store_id = ANY(%s)", (list(STORES),))


@contextmanager
def embedded() -> Iterator[None]:
    """The two stores, written and embedded with the offline model; removed after."""
    with labkit.connect(autocommit=True) as admin:
        write(admin)
        labkit.embed_catalog(STORES, progress=False)
        yield
        remove(admin)
