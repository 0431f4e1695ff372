-- The demo's customers table: created in <data>/customers.db by `sluice demo` when it is missing.
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  email TEXT,
  city TEXT,
  country TEXT,
  segment TEXT NOT NULL DEFAULT 'Standard',
  active BOOLEAN NOT NULL DEFAULT 1
);
INSERT INTO customers (id, name, email, city, country, segment, active) VALUES
  (1, 'Ada Lovelace', 'ada@example.org', 'London', 'GB', 'Gold', 1),
  (2, 'Brendan Byrne', 'brendan@example.org', 'Dublin', 'IE', 'Standard', 1),
  (3, 'Chiara Conti', 'chiara@example.org', 'Milan', 'IT', 'Silver', 1),
  (4, 'Dmitri Dorosh', 'dmitri@example.org', 'Kyiv', 'UA', 'Gold', 1),
  (5, 'Erin Egan', 'erin@example.org', 'Dublin', 'IE', 'Standard', 0),
  (6, 'Farah Fathy', 'farah@example.org', 'Cairo', 'EG', 'Silver', 1),
  (7, 'Gustav Gran', 'gustav@example.org', 'Oslo', 'NO', 'Standard', 1),
  (8, 'Hana Hayashi', 'hana@example.org', 'Osaka', 'JP', 'Gold', 1),
  (9, 'Ilse Imhof', 'ilse@example.org', 'Zurich', 'CH', 'Standard', 1),
  (10, 'Jonas Jensen', 'jonas@example.org', 'Aarhus', 'DK', 'Silver', 1),
  (11, 'Kofi Kuma', 'kofi@example.org', 'Accra', 'GH', 'Standard', 1),
  (12, 'Lucia Lopez', 'lucia@example.org', 'Seville', 'ES', 'Gold', 1),
  (13, 'Mateo Morales', 'mateo@example.org', 'Lima', 'PE', 'Standard', 1),
  (14, 'Nadia Novak', 'nadia@example.org', 'Prague', 'CZ', 'Silver', 0),
  (15, 'Oskar Olsen', 'oskar@example.org', 'Bergen', 'NO', 'Standard', 1);

-- Options for the demo's radio (segments) and combobox (countries), served by table data actions.
CREATE TABLE segments (
  name TEXT PRIMARY KEY,
  description TEXT NOT NULL
);
INSERT INTO segments (name, description) VALUES
  ('Gold', 'Largest accounts, personal service'),
  ('Silver', 'Growing accounts'),
  ('Standard', 'Everyone else');
CREATE TABLE countries (
  code TEXT PRIMARY KEY,
  name TEXT NOT NULL
);
INSERT INTO countries (code, name) VALUES
  ('CH', 'Switzerland'), ('CZ', 'Czechia'), ('DK', 'Denmark'), ('EG', 'Egypt'), ('ES', 'Spain'),
  ('GB', 'United Kingdom'), ('GH', 'Ghana'), ('IE', 'Ireland'), ('IT', 'Italy'), ('JP', 'Japan'),
  ('NO', 'Norway'), ('PE', 'Peru'), ('UA', 'Ukraine'), ('DE', 'Germany'), ('FR', 'France'),
  ('NL', 'Netherlands'), ('PL', 'Poland'), ('PT', 'Portugal'), ('SE', 'Sweden'), ('US', 'United States');
