-- The old stores of questions put to people — `prompts` (0007), `dialogues` (0008) and
-- `pending_reports` (0003) — have not been read since 0013, 0015 and 0017 moved their open rows
-- into `conversations` under the same ids. What they still hold are residents' words (a
-- complaint's text, a half-typed reason) that nothing reads, prunes by age or erases on a
-- person's request any more: they go, with their indexes.
DROP TABLE prompts;
DROP TABLE dialogues;
DROP TABLE pending_reports;
