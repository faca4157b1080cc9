-- A resident's evidence may be a video (a leak, a noise at night): it is kept with the photos,
-- marked as one, so that it is shown again as a video (sendVideo), never sent as a photo.
ALTER TABLE ticket_photos ADD COLUMN kind TEXT NOT NULL DEFAULT 'photo';
