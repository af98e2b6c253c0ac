-- A base version's hidden width and block count, read from its checked weights at publish,
-- so that publishing a domain pack can check it fits every compatible base version.
-- Versions published before this migration have none; packs are not checked against them.
ALTER TABLE versions ADD COLUMN base_hidden INTEGER;
ALTER TABLE versions ADD COLUMN base_layers INTEGER;
