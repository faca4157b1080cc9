-- Every message in a group asks whether its sender owes an answer to "哪栋楼？" (open_for): find
-- the sender's open questions by chat and person, not by scanning every question ever asked
-- in the chat (the table keeps answered and expired ones).
CREATE INDEX pending_reports_open ON pending_reports (chat_id, reporter_id, kind, id)
    WHERE resolved IS NULL;
