-- Reference data every store shares: the four stores and seven categories.
-- Inserted only when missing, so running the file again changes nothing (not
-- even the category sequence).

SET LOCAL ROLE retail_owner;

-- section: stores
INSERT INTO retail.stores (store_id, store_name, store_location, store_type, region)
SELECT v.store_id, v.store_name, v.store_location, v.store_type, v.region
FROM (VALUES
    ('seattle',  'Zava Retail Seattle',  'Seattle, WA',  'flagship',  'west'),
    ('redmond',  'Zava Retail Redmond',  'Redmond, WA',  'standard',  'west'),
    ('bellevue', 'Zava Retail Bellevue', 'Bellevue, WA', 'standard',  'west'),
    ('online',   'Zava Retail Online',   'Online',       'ecommerce', 'global')
) AS v (store_id, store_name, store_location, store_type, region)
WHERE NOT EXISTS (SELECT FROM retail.stores s WHERE s.store_id = v.store_id);

-- section: categories
INSERT INTO retail.product_categories (category_name, description)
SELECT v.category_name, v.description
FROM (VALUES
    ('Electronics',       'Phones, computers, audio, cameras and accessories'),
    ('Clothing',          'Apparel, outerwear and footwear for every season'),
    ('Home & Garden',     'Kitchen, furniture, decor, tools and garden supplies'),
    ('Sports & Outdoors', 'Fitness, camping, hiking, cycling and water sports gear'),
    ('Books & Media',     'Books, music, films and games'),
    ('Health & Beauty',   'Personal care, skincare, wellness and grooming'),
    ('Automotive',        'Car care, parts, tools and accessories')
) AS v (category_name, description)
WHERE NOT EXISTS (
    SELECT FROM retail.product_categories c WHERE c.category_name = v.category_name
);
