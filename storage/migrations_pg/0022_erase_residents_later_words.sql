-- A resident's later words in a ticket's history — what they added to it (added_words), why
-- they were not satisfied (unsatisfied_reason), their edit of the message (source_edited) —
-- went nowhere when the ticket was anonymised (retention) or they asked to be forgotten: only
-- their id became an anonymous id, while the ticket's first words were erased. They now go
-- with them: the one rewrite the history allows is that anonymisation, and it may also replace
-- the detail of such an event by {"erased": true} (storage/privacy.py). Words already left
-- behind by earlier anonymisations (the actor's id is anonymous) are erased here.

ALTER TABLE ticket_events DISABLE TRIGGER ticket_events_no_update;

UPDATE ticket_events SET detail = '{"erased": true}'
WHERE actor_id < 0 AND actor_role IN ('reporter', 'follower')
  AND kind IN ('added_words', 'unsatisfied_reason', 'source_edited');

ALTER TABLE ticket_events ENABLE TRIGGER ticket_events_no_update;

CREATE OR REPLACE FUNCTION ticket_events_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (
        OLD.actor_id > 0 AND NEW.actor_id < 0
        AND OLD.actor_role IN ('reporter', 'follower')
        AND EXISTS (SELECT 1 FROM anonymous_ids WHERE anon_id = -NEW.actor_id)
        AND NEW.id IS NOT DISTINCT FROM OLD.id
        AND NEW.ticket_id IS NOT DISTINCT FROM OLD.ticket_id
        AND NEW.at IS NOT DISTINCT FROM OLD.at
        AND NEW.actor_role IS NOT DISTINCT FROM OLD.actor_role
        AND NEW.kind IS NOT DISTINCT FROM OLD.kind
        AND NEW.from_status IS NOT DISTINCT FROM OLD.from_status
        AND NEW.to_status IS NOT DISTINCT FROM OLD.to_status
        AND (NEW.detail IS NOT DISTINCT FROM OLD.detail OR NEW.detail = '{"erased": true}')
    ) THEN
        RAISE EXCEPTION 'ticket history is append-only';
    END IF;
    RETURN NEW;
END;
$$;
