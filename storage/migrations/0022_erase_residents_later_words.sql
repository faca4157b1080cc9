-- A resident's later words in a ticket's history — what they added to it (added_words), why
-- they were not satisfied (unsatisfied_reason), their edit of the message (source_edited) —
-- went nowhere when the ticket was anonymised (retention) or they asked to be forgotten: only
-- their id became an anonymous id, while the ticket's first words were erased. They now go
-- with them: the one rewrite the history allows is that anonymisation, and it may also replace
-- the detail of such an event by {"erased": true} (storage/privacy.py). Words already left
-- behind by earlier anonymisations (the actor's id is anonymous) are erased here.

DROP TRIGGER ticket_events_no_update;

UPDATE ticket_events SET detail = '{"erased": true}'
WHERE actor_id < 0 AND actor_role IN ('reporter', 'follower')
  AND kind IN ('added_words', 'unsatisfied_reason', 'source_edited');

CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
WHEN NOT (
    OLD.actor_id > 0 AND NEW.actor_id < 0
    AND OLD.actor_role IN ('reporter', 'follower')
    AND EXISTS (SELECT 1 FROM anonymous_ids WHERE anon_id = -NEW.actor_id)
    AND NEW.id IS OLD.id AND NEW.ticket_id IS OLD.ticket_id AND NEW.at IS OLD.at
    AND NEW.actor_role IS OLD.actor_role AND NEW.kind IS OLD.kind
    AND NEW.from_status IS OLD.from_status AND NEW.to_status IS OLD.to_status
    AND (NEW.detail IS OLD.detail OR NEW.detail = '{"erased": true}')
)
BEGIN
    SELECT RAISE(ABORT, 'ticket history is append-only');
END;
