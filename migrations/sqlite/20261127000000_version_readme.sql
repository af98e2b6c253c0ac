-- Each version keeps the model card (readme) it shipped, so `/packs/{id}/{vers}` shows that
-- version's card. Versions published before this migration have none stored here; for the
-- newest of them `packs.readme` (the newest version's card) still holds it.
ALTER TABLE versions ADD COLUMN readme TEXT;
